// Loaded into the appliance under test with `node --import`, never in production. It records, for
// every LevelDB write, which sublevels it touched and whether it asked for fsync, so the power-cut
// scenario can prove that challenge and outbox writes were durable. A `kill -9` keeps the OS page
// cache, so surviving a kill alone proves nothing about a real power loss; `sync: true` does.
import { appendFileSync } from 'node:fs';
import { ClassicLevel } from 'classic-level';

const file = process.env.MFABOX_TEST_WRITE_LOG;
if (file) {
  const sublevelOf = (key) => {
    const s = typeof key === 'string' ? key : Buffer.from(key).toString('utf8');
    const m = /^!([^!]+)!/.exec(s);
    return m ? m[1] : '';
  };
  const record = (ops, options) => {
    const subs = [...new Set(ops.map((o) => sublevelOf(o.key)))].filter(Boolean);
    if (subs.length > 0) appendFileSync(file, `${JSON.stringify({ subs, sync: options?.sync === true })}\n`);
  };
  const { _put, _del, _batch, _chainedBatch } = ClassicLevel.prototype;
  // The store's group commit uses a chained batch: collect its keys, record them at write().
  ClassicLevel.prototype._chainedBatch = function () {
    const b = _chainedBatch.call(this);
    const keys = [];
    const put = b._put;
    const del = b._del;
    const write = b._write;
    b._put = function (key, value, options) {
      keys.push({ key });
      return put.call(this, key, value, options);
    };
    b._del = function (key, options) {
      keys.push({ key });
      return del.call(this, key, options);
    };
    b._write = function (options) {
      record(keys.splice(0), options);
      return write.call(this, options);
    };
    return b;
  };
  ClassicLevel.prototype._put = function (key, value, options) {
    record([{ key }], options);
    return _put.call(this, key, value, options);
  };
  ClassicLevel.prototype._del = function (key, options) {
    record([{ key }], options);
    return _del.call(this, key, options);
  };
  ClassicLevel.prototype._batch = function (ops, options) {
    record(ops, options);
    return _batch.call(this, ops, options);
  };
}
