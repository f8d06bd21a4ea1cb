// wasi.js -- the small WASI shim (wasi_snapshot_preview1) the browser build links against:
// the core is built with Debian's wasi-libc but in the page has no files, no environment and no
// process. Writes to stdout/stderr (the core's log lines) go to the console; clocks come from
// performance.now / Date.now; every file operation fails with EBADF / ENOENT (no preopened
// directories: a model's files reach the core only through the loader's requests, dp_load_*);
// proc_exit throws. Only the imports the linked core names are provided.
const ERRNO_BADF = 8, ERRNO_NOENT = 44, ERRNO_SPIPE = 70, ERRNO_INVAL = 28;

export class WasiExit extends Error {
  constructor(code) { super(`the engine called exit(${code})`); this.code = code; }
}

export function wasiImports(memory, log = (fd, text) => (fd === 2 ? console.warn : console.log)(text)) {
  const view = () => new DataView(memory().buffer);
  const pending = {1: '', 2: ''};
  return {
    environ_sizes_get(countPtr, sizePtr) { view().setUint32(countPtr, 0, true); view().setUint32(sizePtr, 0, true); return 0; },
    environ_get() { return 0; },
    clock_time_get(id, precision, out) {
      const ns = id === 0 ? BigInt(Date.now()) * 1000000n : BigInt(Math.round(performance.now() * 1e6));
      view().setBigUint64(out, ns, true);
      return 0;
    },
    fd_write(fd, iovs, n, written) {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      const dv = view();
      let total = 0, text = '';
      for (let i = 0; i < n; i++) {
        const p = dv.getUint32(iovs + 8 * i, true), len = dv.getUint32(iovs + 8 * i + 4, true);
        text += new TextDecoder().decode(new Uint8Array(memory().buffer, p, len).slice());
        total += len;
      }
      const lines = (pending[fd] + text).split('\n');
      pending[fd] = lines.pop();
      for (const l of lines) log(fd, l);
      dv.setUint32(written, total, true);
      return 0;
    },
    fd_close(fd) { return fd <= 2 ? 0 : ERRNO_BADF; },
    fd_fdstat_get(fd, out) {
      if (fd > 2) return ERRNO_BADF;
      const dv = view();
      dv.setUint8(out, 2); // character device
      dv.setUint16(out + 2, 0, true);
      dv.setBigUint64(out + 8, 0n, true);
      dv.setBigUint64(out + 16, 0n, true);
      return 0;
    },
    fd_fdstat_set_flags(fd) { return fd <= 2 ? 0 : ERRNO_BADF; },
    fd_prestat_get() { return ERRNO_BADF; },       // no preopened directories
    fd_prestat_dir_name() { return ERRNO_BADF; },
    fd_read() { return ERRNO_BADF; },
    fd_readdir() { return ERRNO_BADF; },
    fd_seek(fd) { return fd <= 2 ? ERRNO_SPIPE : ERRNO_BADF; },
    path_open() { return ERRNO_NOENT; },
    path_filestat_get() { return ERRNO_NOENT; },
    proc_exit(code) { throw new WasiExit(code); },
    random_get() { return ERRNO_INVAL; },
  };
}
