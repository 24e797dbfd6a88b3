// Progressive enhancement only: every page works without this file.
(function () {
    "use strict";

    // Forms marked data-confirm ask before submitting (deletes, revokes, drains).
    document.addEventListener("submit", function (event) {
        var form = event.target;
        var question = form.getAttribute && form.getAttribute("data-confirm");
        if (question && !window.confirm(question)) {
            event.preventDefault();
        }
    });

    // The live connections table polls a small JSON handler and replaces its rows in place.
    var table = document.getElementById("live-connections");
    if (!table) {
        return;
    }

    var source = table.getAttribute("data-source");
    var body = table.tBodies[0];
    var total = document.getElementById("live-total");
    var empty = document.getElementById("live-empty");
    var status = document.getElementById("live-status");

    function cell(label, text, href) {
        var td = document.createElement("td");
        td.setAttribute("data-label", label);
        if (href) {
            var a = document.createElement("a");
            a.href = href;
            a.textContent = text;
            td.appendChild(a);
        } else {
            td.textContent = text;
        }
        return td;
    }

    function render(data) {
        var rows = document.createDocumentFragment();
        data.rows.forEach(function (r) {
            var tr = document.createElement("tr");
            tr.setAttribute("data-id", r.id);
            tr.appendChild(cell("Connection", r.id, r.href));
            tr.appendChild(cell("Protocol", r.protocol));
            tr.appendChild(cell("Remote", r.remote));
            tr.appendChild(cell("Gateway", r.gateway));
            tr.appendChild(cell("Open for", r.age));
            tr.appendChild(cell("Traffic", r.traffic));
            var metadata = cell("Metadata", r.metadata);
            metadata.className = "metadata";
            tr.appendChild(metadata);
            rows.appendChild(tr);
        });
        body.replaceChildren(rows);
        total.textContent = String(data.total);
        empty.hidden = data.rows.length > 0;
        status.textContent = "";
    }

    function poll() {
        fetch(source, { headers: { "Accept": "application/json" }, credentials: "same-origin", redirect: "manual" })
            .then(function (response) {
                if (response.type === "opaqueredirect" || response.status === 401) {
                    // The session ended: a full load takes the operator to sign-in and back here.
                    window.location.reload();
                    return null;
                }
                if (!response.ok) {
                    throw new Error("HTTP " + response.status);
                }
                return response.json();
            })
            .then(function (data) { if (data) { render(data); } })
            .catch(function (error) { status.textContent = "· refresh failed (" + error.message + "), retrying"; })
            .finally(function () { window.setTimeout(poll, 3000); });
    }

    window.setTimeout(poll, 3000);
})();
