// Drives the real @actions/cache and @actions/artifact clients for the
// tests: node client.js OP ARGS..., prints "RESULT <json>" or "ERROR <message>".
// The Azure SDK wants Web Crypto as a global, which node 20 has and
// Debian 12's node 18 lacks (published actions run on node 20).
if (!globalThis.crypto) globalThis.crypto = require('crypto').webcrypto;
const cache = require('@actions/cache');
const { DefaultArtifactClient } = require('@actions/artifact');

async function main(op, args) {
  const art = new DefaultArtifactClient();
  switch (op) {
    case 'save':
      return cache.saveCache(JSON.parse(args[0]), args[1]);
    case 'restore':
      return cache.restoreCache(JSON.parse(args[0]), args[1], JSON.parse(args[2] || '[]'));
    case 'upload':
      return art.uploadArtifact(args[0], JSON.parse(args[1]), args[2]);
    case 'list':
      return art.listArtifacts();
    case 'get':
      return art.getArtifact(args[0]);
    case 'download':
      return art.downloadArtifact(Number(args[0]), { path: args[1] });
    case 'delete':
      return art.deleteArtifact(args[0]);
  }
  throw new Error('unknown op ' + op);
}

main(process.argv[2], process.argv.slice(3)).then(
  out => console.log('RESULT ' + JSON.stringify(out === undefined ? null : out)),
  err => { console.log('ERROR ' + err.message); process.exitCode = 1; });
