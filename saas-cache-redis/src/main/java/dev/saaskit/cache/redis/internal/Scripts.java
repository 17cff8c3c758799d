package dev.saaskit.cache.redis.internal;

/**
 * The Lua scripts of the tier and the rate limiter: each runs atomically in Redis, in one round trip.
 *
 * <p>Generations. A TENANT, TAG or ALL invalidation does not delete entries: it moves a generation that every
 * entry records at write time, and an entry whose recorded generations differ from the current ones is a miss.
 * A KEY invalidation deletes the entry and moves the key's version. A store compares the generations and the
 * version it read at its miss with the current ones and writes nothing if any moved (compare-and-set), so a load
 * that raced an invalidation cannot write an old value after it. A generation is moved to
 * {@code max(old + 1, Redis TIME in microseconds)}, so it never returns to an earlier value even after its key
 * expired.
 */
final class Scripts {
  private Scripts() {}

  /** Moves a generation key to a value it never had. {@code bump(key, pttl)} returns the new value. */
  private static final String BUMP = ""
      + "local function bump(key, pttl)\n"
      + "  local t = redis.call('TIME')\n"
      + "  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
      + "  local old = tonumber(redis.call('GET', key) or '0') or 0\n"
      + "  local v = string.format('%.0f', math.max(old + 1, now))\n"
      + "  redis.call('SET', key, v, 'PX', pttl)\n"
      + "  return v\n"
      + "end\n";

  /**
   * Lookup. KEYS: entry, cache generation, tenant generation (the cache's again for a global cache), key version,
   * tag sequence, lock, server id. ARGV: tag generation prefix, lock token ('' = no single flight), lock TTL ms, skip
   * ('1': ignore the entry, for a second call after an entry that did not decode), cache generation TTL ms, the
   * server's {@code run_id} ('' = unknown, no check). Returns
   * {1, payload, pttl, tags} on a hit, {0, cg, tg, version, tagseq, locked} on a miss (locked: 1 if this call took
   * the lock, 0 if another holder has it, -1 if no lock was asked for). The key version and the tag sequence are read
   * on a miss only: only the store that follows a miss compares them.
   *
   * <p>A miss creates the cache generation when it is absent, so that the store that follows always compares a
   * value that exists: a {@code FLUSHALL} or {@code FLUSHDB} (an operator clearing the cache) also wipes the
   * generations and versions that invalidations had moved, and a load that raced one of those invalidations would
   * otherwise find everything back at its absent value and write its old value. Now its cache generation is gone or
   * new, and the store writes nothing. (The store keeps the generation alive as long as entries written under it.)
   *
   * <p>A server that came back with older data (restarted from a snapshot taken before the last invalidations, or a
   * replica promoted before they reached it) has the generations and versions those invalidations moved back at
   * their old values, and the entries they retired match them again. Such a server has a new {@code run_id}: the
   * first lookup that finds another id recorded (or none, next to an existing cache generation) moves the cache
   * generation, so every entry of the cache written before is a miss, and records the new id. The id key lives as
   * long as the cache generation, and every store extends both.
   */
  static final String LOOKUP = BUMP
      + "if ARGV[6] ~= '' then\n"
      + "  local srv = redis.call('GET', KEYS[7])\n"
      + "  if srv ~= ARGV[6] then\n"
      + "    if srv or redis.call('EXISTS', KEYS[2]) == 1 then bump(KEYS[2], ARGV[5]) end\n"
      + "    redis.call('SET', KEYS[7], ARGV[6], 'PX', ARGV[5])\n"
      + "  end\n"
      + "end\n"
      + "local cg = redis.call('GET', KEYS[2]) or '0'\n"
      + "local tg = redis.call('GET', KEYS[3]) or '0'\n"
      + "if ARGV[4] ~= '1' then\n"
      + "  local e = redis.call('HGETALL', KEYS[1])\n"
      + "  if #e > 0 then\n"
      + "    local ok = true\n"
      + "    local d, c, t\n"
      + "    local tags = {}\n"
      + "    for i = 1, #e, 2 do\n"
      + "      local f = e[i]\n"
      + "      if f == 'd' then d = e[i + 1]\n"
      + "      elseif f == 'c' then c = e[i + 1]\n"
      + "      elseif f == 't' then t = e[i + 1]\n"
      + "      elseif string.sub(f, 1, 1) == '#' then\n"
      + "        local name = string.sub(f, 2)\n"
      + "        if (redis.call('GET', ARGV[1] .. name) or '0') ~= e[i + 1] then ok = false end\n"
      + "        tags[#tags + 1] = name\n"
      + "      end\n"
      + "    end\n"
      + "    if ok and d and c == cg and t == tg then\n"
      + "      local pttl = redis.call('PTTL', KEYS[1])\n"
      + "      if pttl > 0 then return {1, d, pttl, tags} end\n"
      + "    end\n"
      + "  end\n"
      + "end\n"
      + "if cg == '0' then\n"
      + "  local now = redis.call('TIME')\n"
      + "  cg = string.format('%.0f', tonumber(now[1]) * 1000000 + tonumber(now[2]))\n"
      + "  redis.call('SET', KEYS[2], cg, 'PX', ARGV[5])\n"
      + "  if KEYS[3] == KEYS[2] then tg = cg end\n"
      + "end\n"
      + "local ver = redis.call('GET', KEYS[4]) or '0'\n"
      + "local ts = redis.call('GET', KEYS[5]) or '0'\n"
      + "local locked = -1\n"
      + "if ARGV[2] ~= '' then\n"
      + "  if redis.call('SET', KEYS[6], ARGV[2], 'NX', 'PX', ARGV[3]) then locked = 1 else locked = 0 end\n"
      + "end\n"
      + "return {0, cg, tg, ver, ts, locked}\n";

  /**
   * Store after a miss. KEYS as {@link #LOOKUP}. ARGV: cg, tg, version, tagseq (as the miss read them), pttl,
   * payload, lock token ('' = none), tag generation prefix, cache generation TTL ms, tags... Returns 1 if stored, 0
   * if an invalidation (or a flush) moved something since the miss. Releases the lock if this token holds it, either
   * way. A store extends the TTLs of the cache generation and of the server id, so that they outlive every entry
   * written under them (an expired generation would turn them all into misses at once).
   */
  static final String STORE = ""
      + "local fresh = (redis.call('GET', KEYS[2]) or '0') == ARGV[1]\n"
      + "  and (redis.call('GET', KEYS[3]) or '0') == ARGV[2]\n"
      + "  and (redis.call('GET', KEYS[4]) or '0') == ARGV[3]\n"
      + "if fresh and #ARGV > 9 and (redis.call('GET', KEYS[5]) or '0') ~= ARGV[4] then fresh = false end\n"
      + "if ARGV[7] ~= '' and redis.call('GET', KEYS[6]) == ARGV[7] then redis.call('DEL', KEYS[6]) end\n"
      + "if not fresh then return 0 end\n"
      + "redis.call('DEL', KEYS[1])\n"
      + "redis.call('HSET', KEYS[1], 'd', ARGV[6], 'c', ARGV[1], 't', ARGV[2])\n"
      // one HSET per tag, not unpack(): Lua's unpack fails above a few thousand values ("too many results")
      + "for i = 10, #ARGV do\n"
      + "  redis.call('HSET', KEYS[1], '#' .. ARGV[i], redis.call('GET', ARGV[8] .. ARGV[i]) or '0')\n"
      + "end\n"
      + "redis.call('PEXPIRE', KEYS[1], ARGV[5])\n"
      + "if ARGV[1] ~= '0' and redis.call('PTTL', KEYS[2]) < tonumber(ARGV[9]) then\n"
      + "  redis.call('PEXPIRE', KEYS[2], ARGV[9])\n"
      + "end\n"
      // the server id outlives every entry too: its expiry next to a live generation would move the generation
      + "if redis.call('PTTL', KEYS[7]) < tonumber(ARGV[9]) then redis.call('PEXPIRE', KEYS[7], ARGV[9]) end\n"
      + "return 1\n";

  /**
   * Releases a single-flight lock whose load will not be stored. KEYS[1]: the lock; ARGV[1]: this holder's token.
   * Deletes it only if this token still holds it (it may have expired and been taken by another node).
   */
  static final String RELEASE = ""
      + "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
      + "return 0\n";

  /**
   * Invalidation. KEYS[1]: the generation or version to move; KEYS[2]: the entry to delete (KEY) or the tag
   * sequence to move (TAG), absent otherwise. ARGV: mode ('k', 't' or 'g'), pttl of KEYS[1], pttl of the tag
   * sequence.
   */
  static final String INVALIDATE = BUMP
      + "bump(KEYS[1], ARGV[2])\n"
      + "if ARGV[1] == 'k' then redis.call('DEL', KEYS[2]) end\n"
      + "if ARGV[1] == 't' then bump(KEYS[2], ARGV[3]) end\n"
      + "return 1\n";

  /**
   * GCRA rate limit check. KEYS[1]: the limiter's key (its theoretical arrival time, microseconds). ARGV: emission
   * interval T (µs), limit L, cost n (tokens wanted), partial (1: take up to n, as many as there are; 0: all or
   * nothing). Time is Redis's {@code TIME}. A state more than one period ahead of it (Redis's clock stepped back,
   * or the bucket ran under a longer period) counts as an empty bucket, so no one is denied longer than a period.
   * Returns {granted, remaining, resetMicros, retryAfterMicros}.
   */
  static final String GCRA = ""
      + "local t = redis.call('TIME')\n"
      + "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
      + "local T = tonumber(ARGV[1])\n"
      + "local L = tonumber(ARGV[2])\n"
      + "local n = tonumber(ARGV[3])\n"
      + "local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
      + "if tat < now then tat = now end\n"
      // a state further ahead than a full period (TIME stepped back, a longer period before) is an empty bucket
      + "if tat > now + T * L then\n"
      + "  tat = now + T * L\n"
      + "  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil(T * L / 1000) + 1)\n"
      + "end\n"
      + "local available = math.floor((now + T * L - tat) / T)\n"
      + "if available > L then available = L end\n"
      + "local take = n\n"
      + "if ARGV[4] == '1' and available < n then take = available end\n"
      + "if take < 1 or available < take then\n"
      + "  local retry = tat + T * math.max(n, 1) - T * L - now\n"
      + "  if ARGV[4] == '1' then retry = tat + T - T * L - now end\n"
      + "  if retry < 0 then retry = 0 end\n"
      + "  return {0, math.max(available, 0), string.format('%.0f', tat - now), string.format('%.0f', retry)}\n"
      + "end\n"
      + "local newtat = tat + T * take\n"
      + "redis.call('SET', KEYS[1], string.format('%.0f', newtat), 'PX', math.ceil((newtat - now) / 1000) + 1)\n"
      + "return {take, available - take, string.format('%.0f', newtat - now), '0'}\n";
}
