// The second opinion on PAC answers: evaluates a PAC file with npm's pac-resolver for each
// [url, host] pair read as JSON from standard input, and prints the answers as a JSON array.
// Used by tests/pac.rs; NODE_PATH must reach pac-resolver 7 and @tootallnate/quickjs-emscripten.
// Usage: node tools/pac_second_opinion.js FILE.pac < pairs.json
'use strict';
const fs = require('fs');
const { createPacResolver } = require('pac-resolver');
const { getQuickJS } = require('@tootallnate/quickjs-emscripten');

async function main() {
    const pac = fs.readFileSync(process.argv[2], 'utf8');
    const pairs = JSON.parse(fs.readFileSync(0, 'utf8'));
    const qjs = await getQuickJS();
    const findProxyForURL = createPacResolver(qjs, pac);
    const answers = [];
    for (const [url, host] of pairs) {
        answers.push(await findProxyForURL(url, host));
    }
    process.stdout.write(JSON.stringify(answers));
}

main().catch((e) => {
    process.stderr.write(String(e && e.stack || e) + '\n');
    process.exit(1);
});
