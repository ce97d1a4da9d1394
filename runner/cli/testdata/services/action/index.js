// A small node action over the real npm clients; the test bundles it with
// them (esbuild), as published actions ship their dist/index.js.
// The Azure SDK wants Web Crypto as a global, which node 20 has and the
// node 18 of the local stand-in image lacks.
if (!globalThis.crypto) globalThis.crypto = require('crypto').webcrypto;
const core = require('@actions/core');
const cache = require('@actions/cache');
const { DefaultArtifactClient } = require('@actions/artifact');
const fs = require('fs');
const path = require('path');

const ws = process.env.GITHUB_WORKSPACE;
const at = p => path.join(ws, p);

async function main() {
  const op = core.getInput('op', { required: true });
  const artifacts = new DefaultArtifactClient();
  switch (op) {
    case 'save': {
      fs.mkdirSync(at('cached'), { recursive: true });
      fs.writeFileSync(at('cached/data.txt'), core.getInput('content'));
      const id = await cache.saveCache(['cached'], core.getInput('key'));
      if (id === -1) throw new Error('the cache was not saved');
      core.info(`saved cache ${id}`);
      break;
    }
    case 'restore': {
      const rk = core.getInput('restore-key');
      const hit = await cache.restoreCache(['cached'], core.getInput('key'), rk ? [rk] : []);
      core.setOutput('matched', hit || '');
      core.setOutput('content', hit ? fs.readFileSync(at('cached/data.txt'), 'utf8') : '');
      break;
    }
    case 'upload': {
      fs.mkdirSync(at('out'), { recursive: true });
      fs.writeFileSync(at('out/report.txt'), core.getInput('content'));
      const r = await artifacts.uploadArtifact(core.getInput('name'), [at('out/report.txt')], at('out'));
      core.info(`uploaded artifact ${r.id} (${r.size} bytes)`);
      break;
    }
    case 'download': {
      const { artifact } = await artifacts.getArtifact(core.getInput('name'));
      await artifacts.downloadArtifact(artifact.id, { path: at('got') });
      core.setOutput('content', fs.readFileSync(at('got/report.txt'), 'utf8'));
      break;
    }
    default:
      throw new Error(`unknown op ${op}`);
  }
}

main().catch(err => core.setFailed(err.message));
