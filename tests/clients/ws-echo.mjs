// Drives a gateway echo tenant with Node's `ws` client and prints one JSON line describing what happened.
// Usage: node ws-echo.mjs <url> [comma-separated sub-protocols]
// Exit code 0 when the echoes matched, 1 otherwise (details in the JSON line or on stderr).
import WebSocket from 'ws';

const [url, protocols = ''] = process.argv.slice(2);
if (!url) {
  console.error('usage: node ws-echo.mjs <url> [protocols]');
  process.exit(2);
}

const offered = protocols.split(',').filter((p) => p.length > 0);
const socket = new WebSocket(url, offered, { perMessageDeflate: true, handshakeTimeout: 10000 });
const replies = [];
const result = { protocol: null, extensions: null, text: null, binary: null, closeCode: null };

const fail = (message) => {
  console.error(message);
  process.exit(1);
};

const timer = setTimeout(() => fail('timed out'), 15000);

socket.on('unexpected-response', (_request, response) => fail(`upgrade refused: ${response.statusCode}`));
socket.on('error', (error) => fail(`error: ${error.message}`));

socket.on('open', () => {
  result.protocol = socket.protocol;
  result.extensions = socket.extensions;
  socket.send('hello from node');
  socket.send(Buffer.from([0, 1, 2, 253, 254, 255]), { binary: true });
});

socket.on('message', (data, isBinary) => {
  replies.push({ data, isBinary });
  if (replies.length === 2) {
    const [text, binary] = replies;
    result.text = text.isBinary ? null : text.data.toString('utf8');
    result.binary = binary.isBinary ? [...binary.data] : null;
    socket.close(1000, 'done');
  }
});

socket.on('close', (code) => {
  clearTimeout(timer);
  result.closeCode = code;
  console.log(JSON.stringify(result));
  const ok = result.text === 'hello from node' && result.binary?.join(',') === '0,1,2,253,254,255';
  process.exit(ok ? 0 : 1);
});
