/*
 * The page cache of one file, for the SSD-regime benchmarks and operators (a small N-API addon
 * built from source at install, binding.gyp target strata_files):
 *
 *   dropCache(path)      posix_fadvise(POSIX_FADV_DONTNEED) over the whole file: its clean pages
 *                        leave the page cache unless a process has them mapped (a cold start without
 *                        dropping every cache on the machine). Returns undefined; throws on error.
 *   residentBytes(path)  bytes of the file now in the page cache (mmap + mincore), as a number.
 *
 * Prefetching LMDB values (an index's posting lists) by their place in the file:
 *   mapOpen(path)                         a handle on the file: its descriptor and a read-only map
 *   mapLocate(h, db, key, out)            out[0..1] = file offset and length of the value stored
 *                                         under u32 `key` in named database `db`; false if absent
 *   mapWillNeed(h, db, keys, count)       for each key, posix_fadvise(WILLNEED) over the value's
 *                                         bytes: the kernel starts one read per value at once and
 *                                         returns; a later read of the value waits only for its own
 *                                         I/O, and a probe's lists arrive in parallel instead of one
 *                                         page fault at a time. Returns the bytes advised.
 *   mapPin(h, dbs, metaDb, key, expected)
 *                                         pin the newest committed snapshot for mapGet if its value
 *                                         under `key` in `metaDb` equals `expected` (the index version
 *                                         the caller's own LMDB read transaction sees)
 *   mapGet(h, db, key, out)               out[0..1] = file offset and length of the value's own bytes
 *                                         in the pinned snapshot (dbs[db]); 1, 0 if absent, -1 unpinned
 *   mapUnpin(h)
 *   mapWindow(h, offset, length, readAhead)
 *                                         an external ArrayBuffer over a read-only shared map of that
 *                                         range of the file (zero-copy views of pinned values); the
 *                                         handle owns it: mapClose detaches it and unmaps
 *   mapClose(h)
 *
 *   readProbe(path, blockBytes, depth, millis)
 *                                         the device's random-read bandwidth, as fio measures it:
 *                                         `depth` threads each pread blocks of `blockBytes` at random
 *                                         aligned offsets of the file with O_DIRECT (no page cache)
 *                                         for `millis` ms; returns bytes per second (the physical limit
 *                                         a query's device reads are compared with)
 * The walk reads LMDB's B-tree itself (the page layout of the LMDB bundled with lmdb-js: 24-byte
 * page headers, 8-byte page numbers, MDB_INTEGERKEY u32 keys) from the newest meta page, outside
 * any transaction. For hints that is enough: a page a writer is reusing at that moment can at worst
 * make it advise the wrong bytes. For views, the caller holds an LMDB read transaction no newer than
 * the pinned snapshot, which keeps every page that snapshot reaches from being reused, and the
 * version check makes the two hold the same index state (value-map.ts). Every page number and offset
 * is bounds-checked against the map; anything implausible ends the walk for that key.
 *
 * Linux only (posix_fadvise and mincore exist elsewhere but their effect differs).
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>
#include <time.h>

#if defined(__linux__)

static int path_arg(napi_env env, napi_callback_info info, char *path, size_t cap) {
  size_t argc = 1;
  napi_value argv[1];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], path, cap, &len) != napi_ok || len == 0 || len >= cap - 1) {
    napi_throw_type_error(env, NULL, "expected a file path");
    return 0;
  }
  return 1;
}

static napi_value throw_errno(napi_env env, const char *what, const char *path) {
  char msg[4200];
  snprintf(msg, sizeof msg, "%s %s: %s", what, path, strerror(errno));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value drop_cache(napi_env env, napi_callback_info info) {
  char path[4096];
  if (!path_arg(env, info, path, sizeof path)) return NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open", path);
  int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
  if (rc != 0) {
    errno = rc;
    return throw_errno(env, "posix_fadvise", path);
  }
  return NULL;
}

static napi_value resident_bytes(napi_env env, napi_callback_info info) {
  char path[4096];
  if (!path_arg(env, info, path, sizeof path)) return NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open", path);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return throw_errno(env, "fstat", path);
  }
  double total = 0;
  if (st.st_size > 0) {
    long page = sysconf(_SC_PAGESIZE);
    size_t pages = (size_t)((st.st_size + page - 1) / page);
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
      close(fd);
      return throw_errno(env, "mmap", path);
    }
    unsigned char *vec = malloc(pages);
    if (!vec || mincore(map, (size_t)st.st_size, vec) != 0) {
      free(vec);
      munmap(map, (size_t)st.st_size);
      close(fd);
      return throw_errno(env, "mincore", path);
    }
    for (size_t i = 0; i < pages; i++) total += (vec[i] & 1) ? (double)page : 0;
    free(vec);
    munmap(map, (size_t)st.st_size);
  }
  close(fd);
  napi_value out;
  napi_create_double(env, total, &out);
  return out;
}

/* ---- LMDB value locator ------------------------------------------------------------------------ */

#define PAGEHDRSZ 24u
#define P_BRANCH 0x01
#define P_LEAF 0x02
#define P_META 0x08
#define P_LEAF2 0x20
#define F_BIGDATA 0x01
#define F_SUBDATA 0x02
#define NODESIZE 8u
#define MDB_MAGIC 0xBEEFC0DEu
/* MDB_meta after the page header: magic, version, address, mapsize, dbs[2] (48 bytes each), last_pg, txnid. */
#define META_DBS (PAGEHDRSZ + 24u)
#define DB_SIZE 48u
#define DB_ROOT 40u
#define META_TXNID (META_DBS + 2u * DB_SIZE + 8u)
#define MAX_DEPTH 16

#define MAX_PIN_DBS 8
#define MAX_WINDOWS 64

typedef struct {
  void *p;
  size_t len;
  napi_ref buffer; /* weak: the ArrayBuffer over it, detached when the map closes */
} Window;

typedef struct {
  int fd;
  uint8_t *map;
  size_t size;
  uint32_t psize;
  Window windows[MAX_WINDOWS];
  uint32_t nwindows;
  /* The snapshot mapPin chose: the named dbs' roots in it (0: the db is absent or empty). */
  int pinned;
  uint32_t pin_dbs;
  uint64_t pin_roots[MAX_PIN_DBS];
} LmdbMap;

static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static int map_refresh(LmdbMap *m) {
  struct stat st;
  if (fstat(m->fd, &st) != 0) return 0;
  if ((size_t)st.st_size == m->size && m->map) return 1;
  if (m->map) munmap(m->map, m->size);
  m->map = NULL;
  m->size = 0;
  if (st.st_size < 2 * 512) return 0;
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, m->fd, 0);
  if (p == MAP_FAILED) return 0;
  /* The walk touches a few B-tree pages at random: no readahead around them. */
  madvise(p, (size_t)st.st_size, MADV_RANDOM);
  m->map = p;
  m->size = (size_t)st.st_size;
  return 1;
}

/* The page `pgno`, or NULL when it is not inside the map. */
static const uint8_t *page_at(LmdbMap *m, uint64_t pgno) {
  /* An empty db's root is P_INVALID (all ones): compare page numbers, never products that can wrap. */
  if (pgno == 0 || pgno >= m->size / m->psize) {
    if (pgno == 0 || pgno > ((uint64_t)1 << 40) || !map_refresh(m) || pgno >= m->size / m->psize) return NULL;
  }
  return m->map + pgno * (uint64_t)m->psize;
}

/* The node holding `key` (u32, INTEGERKEY) or the named db `name` (memn compare) under `root`; NULL if absent. */
static const uint8_t *find_node(LmdbMap *m, uint64_t root, const uint8_t *key, uint32_t ksize, int integer) {
  uint64_t pgno = root;
  for (int depth = 0; depth < MAX_DEPTH; depth++) {
    const uint8_t *pg = page_at(m, pgno);
    if (!pg) return NULL;
    uint16_t flags = rd16(pg + 18), lower = rd16(pg + 20);
    if (flags & (P_META | P_LEAF2)) return NULL;
    /* mp_lower counts from the end of the header (PAGEBASE = PAGEHDRSZ): it is the pointer array's size. */
    if (lower > m->psize - PAGEHDRSZ) return NULL;
    uint32_t n = lower >> 1;
    if (n == 0) return NULL;
    int branch = (flags & P_BRANCH) != 0;
    if (!branch && !(flags & P_LEAF)) return NULL;
    /* Binary search: the last node whose key <= key (branch; node 0's key is -infinity), or equal (leaf). */
    int64_t lo = branch ? 1 : 0, hi = (int64_t)n - 1, found = branch ? 0 : -1;
    while (lo <= hi) {
      int64_t mid = (lo + hi) >> 1;
      uint16_t at = rd16(pg + PAGEHDRSZ + 2 * mid);
      if ((uint32_t)at + PAGEHDRSZ + NODESIZE > m->psize) return NULL;
      const uint8_t *node = pg + at + PAGEHDRSZ;
      uint16_t nk = rd16(node + 6);
      if ((uint32_t)at + PAGEHDRSZ + NODESIZE + nk > m->psize) return NULL;
      int cmp;
      if (integer) {
        if (nk != 4) return NULL;
        uint32_t a = rd32(key), b = rd32(node + NODESIZE);
        cmp = a < b ? -1 : a > b;
      } else {
        uint32_t len = ksize < nk ? ksize : nk;
        cmp = memcmp(key, node + NODESIZE, len);
        if (cmp == 0) cmp = ksize < nk ? -1 : ksize > nk;
      }
      if (cmp == 0) {
        found = mid;
        break;
      }
      if (cmp > 0) {
        if (branch) found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return NULL;
    const uint8_t *node = pg + rd16(pg + PAGEHDRSZ + 2 * found) + PAGEHDRSZ;
    if (!branch) return node;
    pgno = (uint64_t)rd16(node) | ((uint64_t)rd16(node + 2) << 16) | ((uint64_t)rd16(node + 4) << 32);
  }
  return NULL;
}

/*
 * The main db's root in the newest meta page; 0 if the file has none. A commit rewrites the older of
 * the two meta pages, so the txnid is read again after the root: a root read while its page was
 * being rewritten is read again.
 */
static uint64_t main_root(LmdbMap *m) {
  for (int attempt = 0; attempt < 4; attempt++) {
    if (!m->map && !map_refresh(m)) return 0;
    const uint8_t *m0 = m->map, *m1 = m->map + m->psize;
    if (m->size < 2 * (size_t)m->psize || rd32(m0 + PAGEHDRSZ) != MDB_MAGIC || rd32(m1 + PAGEHDRSZ) != MDB_MAGIC) return 0;
    uint64_t t0 = rd64(m0 + META_TXNID), t1 = rd64(m1 + META_TXNID);
    const uint8_t *meta = t1 > t0 ? m1 : m0;
    uint64_t txnid = t1 > t0 ? t1 : t0;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    uint64_t root = rd64(meta + META_DBS + DB_SIZE + DB_ROOT);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (rd64(meta + META_TXNID) == txnid) return root;
  }
  return 0;
}

/* Root page of named db `name` under the main db root `main`; 0 if none. */
static uint64_t named_root(LmdbMap *m, uint64_t main, const char *name) {
  const uint8_t *node = find_node(m, main, (const uint8_t *)name, (uint32_t)strlen(name) + 1, 0); /* lmdb-js names end with their NUL */
  if (!node || !(rd16(node + 4) & F_SUBDATA)) return 0;
  uint32_t dsize = (uint32_t)rd16(node) | ((uint32_t)rd16(node + 2) << 16);
  if (dsize < DB_SIZE) return 0;
  return rd64(node + NODESIZE + rd16(node + 6) + DB_ROOT);
}

/* Root page of named db `name`, from the newest meta page; 0 if none. */
static uint64_t db_root(LmdbMap *m, const char *name) {
  uint64_t main = main_root(m);
  return main ? named_root(m, main, name) : 0;
}

/* The file range of the value under u32 key; 0 when absent. */
static int locate(LmdbMap *m, uint64_t root, uint32_t key, uint64_t *off, uint64_t *len) {
  uint8_t kb[4];
  memcpy(kb, &key, 4);
  const uint8_t *node = find_node(m, root, kb, 4, 1);
  if (!node) return 0;
  uint16_t flags = rd16(node + 4);
  uint32_t dsize = (uint32_t)rd16(node) | ((uint32_t)rd16(node + 2) << 16);
  const uint8_t *data = node + NODESIZE + rd16(node + 6);
  if (flags & F_BIGDATA) {
    uint64_t pgno = rd64(data);
    if (pgno == 0 || pgno > ((uint64_t)1 << 40)) return 0;
    *off = pgno * (uint64_t)m->psize;
    *len = PAGEHDRSZ + (uint64_t)dsize;
    if (*off + *len > m->size && (!map_refresh(m) || *off + *len > m->size)) return 0;
  } else {
    *off = (uint64_t)(data - m->map);
    *len = dsize;
  }
  return 1;
}

/* The file range of the value's own bytes (an overflow value's page header skipped). */
static int locate_value(LmdbMap *m, uint64_t root, uint32_t key, uint64_t *off, uint64_t *len) {
  if (!locate(m, root, key, off, len)) return 0;
  if (*off % m->psize == 0) { /* an overflow page: inline values never start a page */
    *off += PAGEHDRSZ;
    *len -= PAGEHDRSZ;
  }
  return 1;
}

/*
 * Unmap the windows. Their ArrayBuffers are detached first (views of them read as empty, never as
 * freed memory) — when `detach`: a handle collected without mapClose has no live window (each window
 * keeps its handle reachable, value-map.ts), so its finalizer only unmaps.
 */
static void release_windows(napi_env env, LmdbMap *m, int detach) {
  for (uint32_t i = 0; i < m->nwindows; i++) {
    Window *w = &m->windows[i];
    if (detach) {
      napi_value buf;
      if (napi_get_reference_value(env, w->buffer, &buf) == napi_ok && buf != NULL) napi_detach_arraybuffer(env, buf);
    }
    napi_delete_reference(env, w->buffer);
    munmap(w->p, w->len);
  }
  m->nwindows = 0;
}

static void finalize_map(napi_env env, void *data, void *hint) {
  (void)hint;
  LmdbMap *m = data;
  release_windows(env, m, 0);
  if (m->map) munmap(m->map, m->size);
  if (m->fd >= 0) close(m->fd);
  free(m);
}

static napi_value map_open(napi_env env, napi_callback_info info) {
  char path[4096];
  if (!path_arg(env, info, path, sizeof path)) return NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open", path);
  uint8_t head[64];
  if (pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head || rd32(head + PAGEHDRSZ) != MDB_MAGIC) {
    close(fd);
    errno = EINVAL;
    return throw_errno(env, "not an LMDB file:", path);
  }
  LmdbMap *m = calloc(1, sizeof *m);
  m->fd = fd;
  m->psize = rd32(head + META_DBS); /* mm_psize = mm_dbs[FREE_DBI].md_pad */
  if (m->psize < 512 || m->psize > 65536 || (m->psize & (m->psize - 1))) {
    finalize_map(env, m, NULL);
    errno = EINVAL;
    return throw_errno(env, "implausible LMDB page size in", path);
  }
  map_refresh(m);
  napi_value out;
  napi_create_external(env, m, finalize_map, NULL, &out);
  return out;
}

static LmdbMap *map_arg(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, "expected a handle from mapOpen");
    return NULL;
  }
  LmdbMap *m = p;
  if (m->fd < 0) {
    napi_throw_error(env, NULL, "the map was closed");
    return NULL;
  }
  return m;
}

static napi_value map_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  LmdbMap *m = argc > 0 ? map_arg(env, argv[0]) : NULL;
  if (!m) return NULL;
  release_windows(env, m, 1);
  if (m->map) munmap(m->map, m->size);
  close(m->fd);
  m->map = NULL;
  m->size = 0;
  m->fd = -1;
  return NULL;
}

/* The (handle, db name, …) arguments mapLocate and mapWillNeed start with: 4 arguments in argv. */
static LmdbMap *map_db_args(napi_env env, napi_callback_info info, napi_value *argv, char *name, size_t cap) {
  size_t argc = 4, len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    napi_throw_type_error(env, NULL, "expected 4 arguments");
    return NULL;
  }
  LmdbMap *m = map_arg(env, argv[0]);
  if (m && napi_get_value_string_utf8(env, argv[1], name, cap, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "the db name must be a string");
    return NULL;
  }
  return m;
}

static napi_value map_locate(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char name[256];
  uint32_t key;
  napi_typedarray_type type;
  size_t n;
  void *data;
  LmdbMap *m = map_db_args(env, info, argv, name, sizeof name);
  if (!m) return NULL;
  if (napi_get_value_uint32(env, argv[2], &key) != napi_ok ||
      napi_get_typedarray_info(env, argv[3], &type, &n, &data, NULL, NULL) != napi_ok || type != napi_float64_array || n < 2) {
    napi_throw_type_error(env, NULL, "mapLocate(handle, db, key, out: Float64Array(2))");
    return NULL;
  }
  uint64_t off = 0, vlen = 0;
  uint64_t root = db_root(m, name);
  int ok = root != 0 && locate(m, root, key, &off, &vlen);
  ((double *)data)[0] = (double)off;
  ((double *)data)[1] = (double)vlen;
  napi_value out;
  napi_get_boolean(env, ok, &out);
  return out;
}

static napi_value map_will_need(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char name[256];
  napi_typedarray_type type;
  size_t n;
  void *data;
  uint32_t count;
  LmdbMap *m = map_db_args(env, info, argv, name, sizeof name);
  if (!m) return NULL;
  if (napi_get_typedarray_info(env, argv[2], &type, &n, &data, NULL, NULL) != napi_ok || type != napi_uint32_array ||
      napi_get_value_uint32(env, argv[3], &count) != napi_ok || count > n) {
    napi_throw_type_error(env, NULL, "mapWillNeed(handle, db, keys: Uint32Array, count)");
    return NULL;
  }
  double advised = 0;
  uint64_t root = db_root(m, name);
  if (root != 0) {
    const uint32_t *keys = data;
    for (uint32_t i = 0; i < count; i++) {
      uint64_t off, vlen;
      if (!locate(m, root, keys[i], &off, &vlen)) continue;
      if (posix_fadvise(m->fd, (off_t)off, (off_t)vlen, POSIX_FADV_WILLNEED) == 0) advised += (double)vlen;
    }
  }
  napi_value out;
  napi_create_double(env, advised, &out);
  return out;
}

/*
 * mapPin(h, dbs: string[], metaDb, key: Uint8Array, expected: Uint8Array): boolean
 * Choose the newest committed snapshot for mapGet, and accept it only if the value under `key` in
 * named db `metaDb` (the index's version record) has exactly the bytes `expected` — the caller read
 * them through LMDB in its own read transaction, so the snapshot holds the same index state as that
 * transaction. Resolves the roots of `dbs` (mapGet's db numbers are their positions).
 */
static napi_value map_pin(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_value out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) {
    napi_throw_type_error(env, NULL, "mapPin(handle, dbs, metaDb, key, expected)");
    return NULL;
  }
  LmdbMap *m = map_arg(env, argv[0]);
  if (!m) return NULL;
  m->pinned = 0;
  uint32_t ndbs = 0;
  char name[256], meta_name[256];
  size_t len;
  void *key, *expected;
  size_t klen, elen;
  if (napi_get_array_length(env, argv[1], &ndbs) != napi_ok || ndbs > MAX_PIN_DBS ||
      napi_get_value_string_utf8(env, argv[2], meta_name, sizeof meta_name, &len) != napi_ok ||
      napi_get_buffer_info(env, argv[3], &key, &klen) != napi_ok || napi_get_buffer_info(env, argv[4], &expected, &elen) != napi_ok) {
    napi_throw_type_error(env, NULL, "mapPin(handle, dbs: string[] (at most 8), metaDb: string, key: Buffer, expected: Buffer)");
    return NULL;
  }
  uint64_t main = main_root(m);
  int ok = 0;
  if (main != 0) {
    uint64_t meta = named_root(m, main, meta_name);
    const uint8_t *node = meta ? find_node(m, meta, key, (uint32_t)klen, 0) : NULL;
    if (node && !(rd16(node + 4) & (F_BIGDATA | F_SUBDATA))) {
      uint32_t dsize = (uint32_t)rd16(node) | ((uint32_t)rd16(node + 2) << 16);
      const uint8_t *data = node + NODESIZE + rd16(node + 6);
      ok = dsize == elen && (size_t)(data - m->map) + dsize <= m->size && memcmp(data, expected, elen) == 0;
    }
  }
  if (ok) {
    for (uint32_t i = 0; i < ndbs; i++) {
      napi_value v;
      if (napi_get_element(env, argv[1], i, &v) != napi_ok || napi_get_value_string_utf8(env, v, name, sizeof name, &len) != napi_ok) {
        napi_throw_type_error(env, NULL, "mapPin: db names must be strings");
        return NULL;
      }
      m->pin_roots[i] = named_root(m, main, name);
    }
    m->pin_dbs = ndbs;
    m->pinned = 1;
  }
  napi_get_boolean(env, ok, &out);
  return out;
}

static napi_value map_unpin(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  LmdbMap *m = argc > 0 ? map_arg(env, argv[0]) : NULL;
  if (m) m->pinned = 0;
  return NULL;
}

/*
 * mapGet(h, db: number, key, out: Float64Array(2)): 1 with out = [file offset, length] of the value's
 * bytes in the pinned snapshot, 0 when the key is absent, -1 when nothing is pinned.
 */
static napi_value map_get(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  uint32_t db, key;
  napi_typedarray_type type;
  size_t n;
  void *data;
  napi_value out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    napi_throw_type_error(env, NULL, "mapGet(handle, db, key, out)");
    return NULL;
  }
  LmdbMap *m = map_arg(env, argv[0]);
  if (!m) return NULL;
  if (napi_get_value_uint32(env, argv[1], &db) != napi_ok || napi_get_value_uint32(env, argv[2], &key) != napi_ok ||
      napi_get_typedarray_info(env, argv[3], &type, &n, &data, NULL, NULL) != napi_ok || type != napi_float64_array || n < 2) {
    napi_throw_type_error(env, NULL, "mapGet(handle, db: number, key: number, out: Float64Array(2))");
    return NULL;
  }
  int32_t rc = -1;
  if (m->pinned && db < m->pin_dbs) {
    uint64_t off = 0, vlen = 0;
    rc = m->pin_roots[db] != 0 && locate_value(m, m->pin_roots[db], key, &off, &vlen) ? 1 : 0;
    ((double *)data)[0] = (double)off;
    ((double *)data)[1] = (double)vlen;
  }
  napi_create_int32(env, rc, &out);
  return out;
}

/*
 * mapWindow(h, offset, length, readAhead): an ArrayBuffer over bytes [offset, offset + length) of the
 * file, mapped read-only and shared (the page cache's own pages: no copy, no anonymous memory). The
 * range may run past the end of the file; only bytes a pinned snapshot located may be read. The map
 * owns it: mapClose detaches the buffer and unmaps it. Without readAhead, the kernel reads only the
 * pages touched.
 */
static napi_value map_window(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  double offset, length;
  bool ahead;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    napi_throw_type_error(env, NULL, "mapWindow(handle, offset, length, readAhead)");
    return NULL;
  }
  LmdbMap *m = map_arg(env, argv[0]);
  if (!m) return NULL;
  long page = sysconf(_SC_PAGESIZE);
  if (napi_get_value_double(env, argv[1], &offset) != napi_ok || napi_get_value_double(env, argv[2], &length) != napi_ok ||
      napi_get_value_bool(env, argv[3], &ahead) != napi_ok || offset < 0 || length <= 0 || length > 4294967296.0 ||
      (uint64_t)offset % (uint64_t)page != 0) {
    napi_throw_type_error(env, NULL, "mapWindow(handle, offset: page-aligned, length: at most 4 GiB, readAhead: boolean)");
    return NULL;
  }
  if (m->nwindows >= MAX_WINDOWS) {
    napi_throw_range_error(env, NULL, "mapWindow: too many windows on one map");
    return NULL;
  }
  size_t len = (size_t)length;
  void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, m->fd, (off_t)offset);
  if (p == MAP_FAILED) return throw_errno(env, "mmap", "(index file window)");
  if (!ahead) madvise(p, len, MADV_RANDOM);
  napi_value out;
  napi_ref ref;
  if (napi_create_external_arraybuffer(env, p, len, NULL, NULL, &out) != napi_ok || napi_create_reference(env, out, 0, &ref) != napi_ok) {
    munmap(p, len);
    napi_throw_error(env, NULL, "this runtime does not allow external ArrayBuffers");
    return NULL;
  }
  m->windows[m->nwindows++] = (Window){p, len, ref};
  return out;
}

#endif /* __linux__ */

#if defined(__linux__)
typedef struct {
  int fd;
  size_t block;
  uint64_t blocks;
  double until;
  uint64_t seed;
  double bytes;
  int error;
} ProbeThread;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *probe_thread(void *arg) {
  ProbeThread *t = arg;
  void *buf = NULL;
  if (posix_memalign(&buf, 4096, t->block) != 0) {
    t->error = ENOMEM;
    return NULL;
  }
  uint64_t x = t->seed | 1;
  while (now_seconds() < t->until) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
    off_t off = (off_t)((x % t->blocks) * t->block);
    ssize_t r = pread(t->fd, buf, t->block, off);
    if (r < 0) {
      t->error = errno;
      break;
    }
    t->bytes += (double)r;
  }
  free(buf);
  return NULL;
}

static napi_value read_probe(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  char path[4096];
  size_t len;
  uint32_t block, depth, millis;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || napi_get_value_uint32(env, argv[1], &block) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &depth) != napi_ok || napi_get_value_uint32(env, argv[3], &millis) != napi_ok ||
      block < 4096 || block % 4096 != 0 || depth < 1 || depth > 256 || millis < 1) {
    napi_throw_type_error(env, NULL, "readProbe(path, blockBytes: a multiple of 4096, depth: 1..256, millis)");
    return NULL;
  }
  int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open (O_DIRECT)", path);
  struct stat st;
  if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < (uint64_t)block * 16) {
    close(fd);
    errno = EINVAL;
    return throw_errno(env, "file too small to probe:", path);
  }
  ProbeThread *ts = calloc(depth, sizeof *ts);
  pthread_t *ids = calloc(depth, sizeof *ids);
  double until = now_seconds() + millis / 1000.0, start = now_seconds();
  for (uint32_t i = 0; i < depth; i++) {
    ts[i] = (ProbeThread){fd, block, (uint64_t)st.st_size / block, until, 0x9E3779B97F4A7C15ull * (i + 1), 0, 0};
    pthread_create(&ids[i], NULL, probe_thread, &ts[i]);
  }
  double bytes = 0;
  int error = 0;
  for (uint32_t i = 0; i < depth; i++) {
    pthread_join(ids[i], NULL);
    bytes += ts[i].bytes;
    if (ts[i].error) error = ts[i].error;
  }
  double seconds = now_seconds() - start;
  free(ts);
  free(ids);
  close(fd);
  if (error) {
    errno = error;
    return throw_errno(env, "pread (O_DIRECT)", path);
  }
  napi_value out;
  napi_create_double(env, bytes / seconds, &out);
  return out;
}
#endif /* __linux__ */

static napi_value init(napi_env env, napi_value exports) {
#if defined(__linux__)
  napi_property_descriptor props[] = {
      {"dropCache", NULL, drop_cache, NULL, NULL, NULL, napi_default, NULL},
      {"residentBytes", NULL, resident_bytes, NULL, NULL, NULL, napi_default, NULL},
      {"mapOpen", NULL, map_open, NULL, NULL, NULL, napi_default, NULL},
      {"mapClose", NULL, map_close, NULL, NULL, NULL, napi_default, NULL},
      {"mapLocate", NULL, map_locate, NULL, NULL, NULL, napi_default, NULL},
      {"mapWillNeed", NULL, map_will_need, NULL, NULL, NULL, napi_default, NULL},
      {"mapPin", NULL, map_pin, NULL, NULL, NULL, napi_default, NULL},
      {"mapUnpin", NULL, map_unpin, NULL, NULL, NULL, napi_default, NULL},
      {"mapGet", NULL, map_get, NULL, NULL, NULL, napi_default, NULL},
      {"mapWindow", NULL, map_window, NULL, NULL, NULL, napi_default, NULL},
      {"readProbe", NULL, read_probe, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
#endif
  return exports; /* elsewhere: no functions (page-cache.ts reports the platform as unsupported) */
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
