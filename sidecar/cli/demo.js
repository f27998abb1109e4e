// demo.js - what a guest sees from inside its VM: `make run` runs it with `secure-exec run`.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');

function attempt(fn) {
  try {
    return fn();
  } catch (e) {
    return `refused (${e.code || e.message})`;
  }
}

console.log('Hello from a Secure Exec VM!');
console.log(`  runtime      node ${process.version}, pid ${process.pid}`);
console.log(`  identity     uid ${process.getuid()}, gid ${process.getgid()}, home ${os.homedir()}`);
console.log(`  hostname     ${os.hostname()}`);
console.log(`  cwd          ${process.cwd()}: ${fs.readdirSync('.').join(' ')}`);
console.log(`  interfaces   ${Object.keys(os.networkInterfaces()).join(' ')}`);
console.log(`  environment  ${Object.keys(process.env).sort().join(' ')}`);
console.log(`  /proc/sys    ${attempt(() => fs.writeFileSync('/proc/sys/kernel/hostname', 'x') || 'writable!')}`);
console.log(`  /usr/bin     ${attempt(() => fs.writeFileSync('/usr/bin/x', '') || 'writable!')}`);
fs.writeFileSync('/tmp/scratch', 'the VM filesystem is disposable');
console.log(`  /tmp         ${fs.readFileSync('/tmp/scratch', 'utf8')}`);

const sock = net.connect({ host: '1.1.1.1', port: 443 });
sock.setTimeout(2000);
sock.on('connect', () => {
  console.log('  network      connected to 1.1.1.1:443!');
  sock.destroy();
});
sock.on('timeout', () => {
  console.log('  network      1.1.1.1:443 timed out');
  sock.destroy();
});
sock.on('error', (e) => console.log(`  network      1.1.1.1:443 refused (${e.code})`));
