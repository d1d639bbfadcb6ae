"""The Lua scripts of a distributed crawl: every change to shared state is one atomic script.

Each script runs inside Redis as one step, so two nodes never see a
half-made change: a page's done-mark, its record (into the node's outbox)
and the links it found land together or not at all (`COMPLETE`), the same
way `crawler.store.journal` commits a page under ``--state``. Times come from the
Redis server's clock (``TIME``), so nodes need not agree on the time.

Every script that changes the frontier ends by returning the crawl's state,
``{queued, in_flight, min_depth}``, so a node refreshes its view of the
crawl without another round trip. Key layout: `crawler.cluster.link.Keys`.
"""

from __future__ import annotations

#: Helpers prepended to every script. ``2^32``: a queue score is depth · 2^32 + sequence.
_COMMON = r"""
local SPAN = 4294967296
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function undepth(depths, d)
  if redis.call('HINCRBY', depths, d, -1) <= 0 then redis.call('HDEL', depths, d) end
end
-- queued (within --max-pages), in flight (leased or waiting to be re-leased), lowest unfinished depth
local function status(queue, requeued, inflight, depths, meta)
  local queued = redis.call('ZCARD', queue)
  local cap = tonumber(redis.call('HGET', meta, 'max_pages') or '0')
  if cap > 0 and tonumber(redis.call('HGET', meta, 'admitted') or '0') >= cap then queued = 0 end
  local low = -1
  local counts = redis.call('HGETALL', depths)
  for i = 1, #counts, 2 do
    local d = tonumber(counts[i])
    if tonumber(counts[i + 1]) > 0 and (low < 0 or d < low) then low = d end
  end
  return {queued + redis.call('ZCARD', requeued), redis.call('ZCARD', inflight), low}
end
-- Each queued task is also in its origin's queue, hq:ORIGIN (same score), and ``origins``
-- scores each origin by its queue's head: TAKE leases round-robin across origins. These keys
-- are named after ``queue`` (KEYS[1]: PREFIX .. 'queue'), in the crawl's hash tag like the rest.
local function origin_of(url) return string.match(url, '^[^:]+://[^/]+') or url end
local function hq_of(queue, origin) return string.sub(queue, 1, -6) .. 'hq:' .. origin end
local function origins_of(queue) return string.sub(queue, 1, -6) .. 'origins' end
local function enqueue(queue, fp, score, json)
  local origin = origin_of(cjson.decode(json)[1])
  redis.call('ZADD', queue, score, fp)
  redis.call('ZADD', hq_of(queue, origin), score, fp)
  redis.call('ZADD', origins_of(queue), 'LT', score, origin)
end
-- Queue ``count`` tasks at ``depth`` from ``blob``, one line per task: its fingerprint (16 hex
-- digits) then its JSON (which holds no raw newline); returns how many were new. One string
-- instead of two arguments per task: a page's 30-50 links cost the client one argument to pack.
-- A URL still queued at a greater depth takes the shorter one (as the local frontiers do).
local function put(seen, task, queue, depths, meta, depth, blob, count)
  if count == 0 then return 0 end
  local seq = redis.call('HINCRBY', meta, 'seq', count) - count
  local fresh = 0
  local i = 0
  for line in string.gmatch(blob, '[^\n]+') do
    local fp, json = string.sub(line, 1, 16), string.sub(line, 17)
    i = i + 1
    local score = depth * SPAN + seq + i
    if redis.call('SADD', seen, fp) == 1 then
      redis.call('HSET', task, fp, json)
      enqueue(queue, fp, score, json)
      redis.call('HINCRBY', depths, depth, 1)
      fresh = fresh + 1
    else
      local old = redis.call('ZSCORE', queue, fp)
      if old then
        local od = math.floor(tonumber(old) / SPAN)
        if od > depth then
          enqueue(queue, fp, score, json)
          redis.call('HSET', task, fp, json)
          undepth(depths, od)
          redis.call('HINCRBY', depths, depth, 1)
        end
      end
    end
  end
  return fresh
end
-- Release slot tokens: KEYS[first..] are slot zsets, ARGV[afirst..] their tokens, pairwise.
local function release(first, afirst)
  for i = first, #KEYS do redis.call('ZREM', KEYS[i], ARGV[afirst + i - first]) end
end
"""

#: KEYS: queue, requeued, inflight, depths, meta, seen, task. ARGV: depth, count, tasks (see put).
#: Returns {fresh, queued, in_flight, min_depth}.
PUT = _COMMON + r"""
local fresh = put(KEYS[6], KEYS[7], KEYS[1], KEYS[4], KEYS[5], tonumber(ARGV[1]), ARGV[3], tonumber(ARGV[2]))
local s = status(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return {fresh, s[1], s[2], s[3]}
"""

#: KEYS: queue, requeued, inflight, depths, meta, task, done, hosts, takers. ARGV: n, lease_ms,
#: max_depth, node, held (tasks the node holds leased). Requeues expired leases, then leases
#: up to n tasks, and no more than the node's fair share of the work (queued and in flight,
#: over the nodes that asked within the last second; at least 4): a node that asks often
#: must not drain a short queue its peers wait on. Re-leases go first, then new ones
#: within --max-pages and --max-pages-per-host (a URL over its host's cap is marked done
#: without a record), none deeper than max_depth (-1: no bound). New ones go round-robin
#: across origins, each origin's first queued task per round, origins with the
#: shallowest, earliest head first: breadth-first order within each host, and a batch
#: spans the hosts with work (a breadth-first queue holds long runs of one host's links:
#: taken in that order, every node would crowd the same host's slots). Returns
#: {queued, in_flight, min_depth, 1 if the fair share cut the batch else 0, task JSON...}.
TAKE = _COMMON + r"""
local queue, requeued, inflight, depths, meta, task, done, hosts, takers = unpack(KEYS)
local n, lease, max_depth = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local node, held = ARGV[4], tonumber(ARGV[5])
local now = now_ms()
redis.call('ZADD', takers, now, node)
redis.call('ZREMRANGEBYSCORE', takers, '-inf', now - 1000)
local peers = redis.call('ZCARD', takers)
local shared = 0
if peers > 1 then
  local work = redis.call('ZCARD', queue) + redis.call('ZCARD', requeued) + redis.call('ZCARD', inflight)
  -- at least a few, so a node never waits on a share the others cannot use (a peer gone quiet)
  local share = math.max(4, math.ceil(work / peers) - held)
  if share < n then
    n = share
    shared = 1
  end
end
local expired = redis.call('ZRANGEBYSCORE', inflight, '-inf', now, 'LIMIT', 0, 1000)
for _, fp in ipairs(expired) do
  redis.call('ZREM', inflight, fp)
  local t = redis.call('HGET', task, fp)
  local d = t and cjson.decode(t)[2] or 0
  redis.call('ZADD', requeued, d * SPAN, fp)
end
if #expired > 0 then redis.call('HINCRBY', meta, 'requeues', #expired) end
local out = {}
local function lease_one(fp)
  redis.call('ZADD', inflight, now + lease, fp)
  out[#out + 1] = redis.call('HGET', task, fp)
end
-- Nothing deeper than max_depth leaves the queues: see Frontier.get.
local top = max_depth < 0 and '+inf' or '(' .. ((max_depth + 1) * SPAN)
if n > 0 then
  local got = redis.call('ZRANGEBYSCORE', requeued, '-inf', top, 'LIMIT', 0, n)
  for _, fp in ipairs(got) do
    redis.call('ZREM', requeued, fp)
    lease_one(fp)
  end
  n = n - #got
end
local origins = origins_of(queue)
-- The head of an origin's queue, taken out of both queues; the origin moves to its next head.
local function pop(origin)
  local hq = hq_of(queue, origin)
  local head = redis.call('ZRANGE', hq, 0, 0)
  local fp = head[1]
  if fp then
    redis.call('ZREM', hq, fp)
    redis.call('ZREM', queue, fp)
  end
  local nxt = redis.call('ZRANGE', hq, 0, 0, 'WITHSCORES')
  if #nxt == 0 then redis.call('ZREM', origins, origin) else redis.call('ZADD', origins, nxt[2], origin) end
  return fp
end
local cap = tonumber(redis.call('HGET', meta, 'max_pages') or '0')
local per_host = tonumber(redis.call('HGET', meta, 'max_per_host') or '0')
-- Per-host page caps ([hosts."NAME"] max_pages) are meta fields cap:NAME, by host name.
local host_caps = redis.call('HGET', meta, 'host_caps') == '1'
local function cap_of(origin)
  if not host_caps then return per_host end
  local rest = string.match(origin, '^[^:]+://(.*)$') or origin
  local name = string.match(rest, '^%[([^%]]*)%]') or string.match(rest, '^([^:]*)')
  return tonumber(redis.call('HGET', meta, 'cap:' .. name) or per_host)
end
while n > 0 do
  local room = n
  if cap > 0 then room = math.min(room, cap - tonumber(redis.call('HGET', meta, 'admitted') or '0')) end
  if room <= 0 then break end
  local heads = redis.call('ZRANGEBYSCORE', origins, '-inf', top, 'LIMIT', 0, room)
  if #heads == 0 then break end
  local admitted = 0
  for _, origin in ipairs(heads) do
    local fp = pop(origin)
    if fp then
      local over = false
      if per_host > 0 or host_caps then
        local t = cjson.decode(redis.call('HGET', task, fp))
        local limit = cap_of(origin)
        if limit > 0 and redis.call('HINCRBY', hosts, origin, 1) > limit then
          over = true
          redis.call('SADD', done, fp)
          redis.call('HDEL', task, fp)
          undepth(depths, t[2])
          redis.call('HINCRBY', meta, 'capped', 1)
        end
      end
      if not over then
        admitted = admitted + 1
        lease_one(fp)
        n = n - 1
      end
    end
  end
  redis.call('HINCRBY', meta, 'admitted', admitted)
end
local s = status(queue, requeued, inflight, depths, meta)
local reply = {s[1], s[2], s[3], shared}
for _, t in ipairs(out) do reply[#reply + 1] = t end
return reply
"""

#: KEYS: queue, requeued, inflight, depths, meta, seen, task, done, outbox, calls, nwait
#: waiting(origin) zsets (the pages' origins), slot zsets... ARGV: node, call_id, ack, npages,
#: nwait, then per page: fp, depth, record ('' = drop), error (0/1), link_depth, link_count,
#: links (see put); then one token per slot zset. Acknowledges ``ack`` outbox
#: records (written since the last call), releases the slots, and for each page, unless
#: its ``fp`` is already done (or ''), marks it done, keeps its record in the node's outbox
#: and queues its links: the pages a node finished since its last call cost one round
#: trip. A retried call (same call_id) returns the first answer. Returns {accepted flags
#: ('1'/'0' per page, a string), queued, in_flight, min_depth, other nodes waiting for a
#: slot of each origin given}.
COMPLETE = _COMMON + r"""
local queue, requeued, inflight, depths, meta, seen, task, done, outbox, calls = unpack(KEYS, 1, 10)
local node, call_id = ARGV[1], ARGV[2]
local npages, nwait = tonumber(ARGV[4]), tonumber(ARGV[5])
local last = redis.call('HGET', calls, node)
local flags = nil
if last then
  local id, res = string.match(last, '^(%d+):(%d*)$')
  if id == call_id then flags = res end
end
if flags == nil then
  local ack = tonumber(ARGV[3])
  if ack > 0 then redis.call('LTRIM', outbox, ack, -1) end
  local out = {}
  local a = 6
  for _ = 1, npages do
    local fp, record, count = ARGV[a], ARGV[a + 2], tonumber(ARGV[a + 5])
    local accepted = '0'
    if fp ~= '' and redis.call('SADD', done, fp) == 1 then
      accepted = '1'
      if redis.call('ZREM', inflight, fp) + redis.call('ZREM', requeued, fp) > 0 then
        undepth(depths, tonumber(ARGV[a + 1]))
      end
      redis.call('HDEL', task, fp)
      if record ~= '' then
        redis.call('RPUSH', outbox, record)
        redis.call('HINCRBY', meta, 'pages', 1)
        if ARGV[a + 3] == '1' then redis.call('HINCRBY', meta, 'errors', 1) end
      else
        redis.call('HINCRBY', meta, 'dropped', 1)
      end
      put(seen, task, queue, depths, meta, tonumber(ARGV[a + 4]), ARGV[a + 6], count)
    end
    out[#out + 1] = accepted
    a = a + 7
  end
  release(11 + nwait, a)
  flags = table.concat(out)
  redis.call('HSET', calls, node, call_id .. ':' .. flags)
end
local s = status(queue, requeued, inflight, depths, meta)
local reply = {flags, s[1], s[2], s[3]}
local now = now_ms()
for i = 11, 10 + nwait do
  local others = redis.call('ZCOUNT', KEYS[i], '(' .. now, '+inf')
  local me = redis.call('ZSCORE', KEYS[i], node)
  if me and tonumber(me) > now then others = others - 1 end
  reply[#reply + 1] = others
end
return reply
"""

#: KEYS: slots(origin), pace, waiting(origin), slot zsets to release... ARGV: origin, token,
#: limit, delay_ms, lease_ms, node, mine (slots of origin the node holds), wait_ms, one
#: token per released zset. A request to ``origin`` may start when fewer than ``limit``
#: slots are held (across nodes), the node is within its fair share while other nodes
#: wait for one (``limit`` / nodes wanting the host, rounded up), and the host's pace
#: time has come. A token the node holds already (an idle slot) is only paced. Returns
#: {0 (granted: the slot is held until released or its lease runs out) | ms to wait for
#: the pace | -1 (no slot for this node now: it is noted as waiting for ``wait_ms``),
#: other nodes waiting}.
ACQUIRE = _COMMON + r"""
local slots, pace, waiting = KEYS[1], KEYS[2], KEYS[3]
local origin, token, node = ARGV[1], ARGV[2], ARGV[6]
local limit, delay, lease = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local mine, wait_ms = tonumber(ARGV[7]), tonumber(ARGV[8])
release(4, 9)
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
redis.call('ZREMRANGEBYSCORE', waiting, '-inf', now)
local others = redis.call('ZCARD', waiting)
if redis.call('ZSCORE', waiting, node) then others = others - 1 end
local next_at = tonumber(redis.call('HGET', pace, origin) or '0')
if next_at > now then return {next_at - now, others} end
if redis.call('ZSCORE', slots, token) == false then
  local share = math.ceil(limit / (others + 1))
  if redis.call('ZCARD', slots) >= limit or (others > 0 and mine >= share) then
    redis.call('ZADD', waiting, now + wait_ms, node)
    redis.call('PEXPIRE', waiting, wait_ms)
    return {-1, others}
  end
end
redis.call('ZADD', slots, now + lease, token)
redis.call('ZREM', waiting, node)
if delay > 0 then redis.call('HSET', pace, origin, now + delay) end
return {0, others}
"""

#: KEYS: queue, requeued, inflight, depths, meta, alive, slot zsets... ARGV: lease_ms,
#: heartbeat, fp_count, fps..., one token per slot zset. Extends the leases of the
#: tasks and slots a node holds (only those it still holds: XX) and its heartbeat.
#: Returns the crawl's state.
RENEW = _COMMON + r"""
local lease, count = tonumber(ARGV[1]), tonumber(ARGV[3])
local expiry = now_ms() + lease
for i = 4, 3 + count do redis.call('ZADD', KEYS[3], 'XX', expiry, ARGV[i]) end
for i = 7, #KEYS do redis.call('ZADD', KEYS[i], 'XX', expiry, ARGV[4 + count + i - 7]) end
redis.call('SET', KEYS[6], ARGV[2], 'PX', lease)
return status(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
"""

#: KEYS: queue, requeued, inflight, depths, meta, task, slot zsets... ARGV: fp_count, fps...,
#: one token per slot zset. A node stopping early hands its leased tasks back (first in
#: line) and frees its slots, so no one waits for its leases to run out.
HAND_BACK = _COMMON + r"""
local count = tonumber(ARGV[1])
for i = 2, 1 + count do
  local fp = ARGV[i]
  if redis.call('ZREM', KEYS[3], fp) == 1 then
    local t = redis.call('HGET', KEYS[6], fp)
    redis.call('ZADD', KEYS[2], (t and cjson.decode(t)[2] or 0) * SPAN, fp)
  end
end
release(7, 2 + count)
return status(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
"""

#: KEYS: queue, requeued, inflight, depths, meta, slot zsets... ARGV: tokens.
#: Frees slots (when no other call carried them) and returns the crawl's state.
STATUS = _COMMON + r"""
release(6, 1)
return status(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
"""
