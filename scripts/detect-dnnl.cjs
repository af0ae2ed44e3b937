// Prints "1" when oneDNN (Debian libdnnl-dev) can be built against, "0" otherwise.
// BERTFIT_NO_DNNL=1 forces the built-in GEMM so that path can be built and tested on any machine.
const fs = require('node:fs');
if (process.env.BERTFIT_NO_DNNL === '1') { console.log('0'); process.exit(0); }
const header = ['/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/oneapi/dnnl/dnnl.hpp'].some((p) => fs.existsSync(p));
const libDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib', '/usr/local/lib'];
const lib = libDirs.some((d) => fs.existsSync(`${d}/libdnnl.so`));
console.log(header && lib ? '1' : '0');
