// Opens a sweep's report.html in headless Chromium and checks, through the DevTools protocol
// (over --remote-debugging-pipe, so no network port and no npm package):
//  - the page logs no console error or warning, throws no exception, fails no load;
//  - it holds one inline <svg> per plot file of its folder (*.svg, as `ocs sweep` wrote them);
//  - every plot is drawn: laid out with a non-zero size, holding data marks (the series' paths
//    and points, the histogram's bars) with a non-zero box, and, rasterized by the browser into
//    a canvas, showing coloured pixels (the series and bars; axes and text are grey/black).
//   node tests/browser/check_report.js CHROMIUM DIR/report.html
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [chromium, report] = process.argv.slice(2);
if (!chromium || !report) {
  console.error('usage: check_report.js CHROMIUM REPORT.html');
  process.exit(2);
}
const reportPath = path.resolve(report);
const expectedPlots = fs.readdirSync(path.dirname(reportPath)).filter((f) => f.endsWith('.svg')).sort();
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ocs_chromium_'));
const browser = spawn(chromium, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--remote-debugging-pipe', `--user-data-dir=${profile}`, 'about:blank'],
  { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
let browserLog = '';
browser.stderr.on('data', (d) => { browserLog += d; });

// The protocol: JSON messages ending in a NUL byte; we write to fd 3, Chromium writes to fd 4.
let nextId = 1;
const pending = new Map();
const events = [];
let eventWaiter = null;
let buffer = Buffer.alloc(0);
browser.stdio[4].on('data', (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  let end;
  while ((end = buffer.indexOf(0)) >= 0) {
    const message = JSON.parse(buffer.subarray(0, end).toString());
    buffer = buffer.subarray(end + 1);
    if (message.id && pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      message.error ? reject(new Error(JSON.stringify(message.error))) : resolve(message.result);
    } else if (message.method) {
      events.push(message);
      if (eventWaiter) eventWaiter();
    }
  }
});
function send(method, params = {}, sessionId = undefined) {
  const id = nextId++;
  browser.stdio[3].write(JSON.stringify({ id, method, params, sessionId }) + '\0');
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}
function waitForEvent(method) {
  return new Promise((resolve) => {
    const look = () => {
      const e = events.find((m) => m.method === method);
      if (e) { eventWaiter = null; resolve(e); } else eventWaiter = look;
    };
    look();
  });
}

// Runs in the page: one entry per inline SVG.
function inspectPlots() {
  const svgs = [...document.querySelectorAll('svg')];
  return Promise.all(svgs.map(async (svg) => {
    const heading = svg.previousElementSibling ? svg.previousElementSibling.textContent : '';
    const box = svg.getBoundingClientRect();
    const width = svg.width.baseVal.value;
    const marks = [...svg.querySelectorAll('path, circle, polyline, rect')].filter((el) => {
      if (el.tagName === 'rect' && (el.getAttribute('fill') === 'none' || el.getAttribute('fill') === 'white')) return false;
      const b = el.getBBox();
      return b.width > 0 || b.height > 0;
    }).length;
    const image = new Image();
    image.src = URL.createObjectURL(new Blob([new XMLSerializer().serializeToString(svg)], { type: 'image/svg+xml' }));
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let coloured = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      const r = pixels[i], g = pixels[i + 1], b = pixels[i + 2];
      if (pixels[i + 3] > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) ++coloured;
    }
    return { heading, width: box.width, height: box.height, declaredWidth: width, marks, coloured };
  }));
}

async function main() {
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  for (const domain of ['Page', 'Runtime', 'Log']) await send(`${domain}.enable`, {}, sessionId);
  await send('Page.navigate', { url: 'file://' + reportPath }, sessionId);
  await waitForEvent('Page.loadEventFired');
  const { result, exceptionDetails } = await send('Runtime.evaluate', {
    expression: `(${inspectPlots.toString()})()`, awaitPromise: true, returnByValue: true }, sessionId);
  if (exceptionDetails) throw new Error('the plot check failed in the page: ' + JSON.stringify(exceptionDetails));
  const plots = result.value;

  const problems = [];
  for (const e of events) {
    if (e.method === 'Runtime.exceptionThrown') problems.push('exception: ' + JSON.stringify(e.params.exceptionDetails));
    if (e.method === 'Runtime.consoleAPICalled' && ['error', 'warning', 'assert'].includes(e.params.type))
      problems.push(`console.${e.params.type}: ` + e.params.args.map((a) => a.value ?? a.description).join(' '));
    if (e.method === 'Log.entryAdded' && ['error', 'warning'].includes(e.params.entry.level))
      problems.push(`${e.params.entry.source} ${e.params.entry.level}: ${e.params.entry.text}`);
  }
  const headings = plots.map((p) => p.heading).sort();
  if (JSON.stringify(headings) !== JSON.stringify(expectedPlots))
    problems.push(`the page shows plots [${headings}], the folder holds [${expectedPlots}]`);
  for (const p of plots) {
    if (!(p.width > 0 && p.height > 0)) problems.push(`${p.heading}: laid out ${p.width}x${p.height}`);
    if (p.marks === 0) problems.push(`${p.heading}: no data marks with a non-zero box`);
    if (p.coloured < 50) problems.push(`${p.heading}: only ${p.coloured} coloured pixels when rasterized`);
    console.log(`${p.heading}: ${Math.round(p.width)}x${Math.round(p.height)} px, ${p.marks} data marks, ${p.coloured} coloured pixels`);
  }
  if (plots.length === 0) problems.push('the page holds no plot');
  return problems;
}

// Ends Chromium (and waits for it, so its profile can be removed) before reporting.
function finish(problems) {
  clearTimeout(timer);
  const done = () => {
    fs.rmSync(profile, { recursive: true, force: true });
    if (problems.length) {
      console.error('FAIL: ' + reportPath + '\n  ' + problems.join('\n  '));
      process.exit(1);
    }
    console.log(`PASS: ${reportPath}: no console errors, ${expectedPlots.length} plots drawn`);
    process.exit(0);
  };
  if (browser.exitCode !== null || browser.signalCode !== null) return done();
  browser.on('exit', done);
  setTimeout(() => browser.kill('SIGKILL'), 10000).unref();
  browser.kill();
}
const timer = setTimeout(() => finish(['Chromium did not answer within 120 s\n' + browserLog]), 120000);
main().then(finish, (error) => finish([error.message + '\n' + browserLog]));
