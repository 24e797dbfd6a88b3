// Holds one WebSocket connection open with Node's `ws` client and prints, one line each, what happens to it:
// "open", "text <message>", "binary <base64>", and finally "close <code> <reason>", then exits.
// Usage: node ws-listen.mjs <url>
import WebSocket from 'ws';

const [url] = process.argv.slice(2);
if (!url) {
  console.error('usage: node ws-listen.mjs <url>');
  process.exit(2);
}

const socket = new WebSocket(url, { handshakeTimeout: 10000 });
socket.on('unexpected-response', (_request, response) => {
  console.log(`refused ${response.statusCode}`);
  process.exit(1);
});
socket.on('error', (error) => {
  console.log(`error ${error.message}`);
  process.exit(1);
});
socket.on('open', () => console.log('open'));
socket.on('message', (data, isBinary) =>
  console.log(isBinary ? `binary ${Buffer.from(data).toString('base64')}` : `text ${data.toString('utf8')}`));
socket.on('close', (code, reason) => {
  console.log(`close ${code} ${reason.toString('utf8')}`);
  process.exit(0);
});
