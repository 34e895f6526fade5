-- Publishes one event: takes the hub's next position, stores the frame in the topic's
-- stream, trims the history, and notifies every instance, all in one atomic step.
--
-- KEYS[1] hub            hash of the hub: `epoch` and `seq`, its position counter. One key,
--                        so Redis loses (deletes, evicts) both or neither: a counter that
--                        starts again always starts in a new epoch.
-- KEYS[2] stream         this topic's history
-- KEYS[3] meta           hash of this topic: `epoch` (of its history), `last` (newest
--                        position published to it) and `trimmed` (newest position removed
--                        from its history)
-- KEYS[4] clock          sorted set: positions by the time they were handed out, a few a
--                        period, for the floor of a topic created afresh (see below)
-- ARGV[1] a fresh epoch, used if the hub is missing or its counter went back
-- ARGV[2] the encoded event without its id line and final blank line
-- ARGV[3] history: most events kept (0: none)
-- ARGV[4] history: most age in ms (0: no bound)
-- ARGV[5] the topic's idle expiry in ms: its stream and meta expire this long after its
--         last publish
-- ARGV[6] the Pub/Sub channel of the topic
-- ARGV[7] the epoch of the newest position this instance has seen ('' if none)
-- ARGV[8] that position
-- returns "{epoch}-{seq}"
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  -- A new or wiped Redis, or the hub's record evicted: a new epoch, and the clock's
  -- positions (of the old one) go.
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
  redis.call('DEL', KEYS[4])
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
if epoch == ARGV[7] and seq <= tonumber(ARGV[8]) then
  -- The counter went back: Redis lost writes it had acknowledged (a failover to a replica
  -- that was behind, a crash with `appendfsync everysec`), and positions this instance saw
  -- would be handed out again, naming other events. A new epoch instead: no id repeats,
  -- and every client holding one from before gets a reset.
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', seq)
  redis.call('DEL', KEYS[4])
end
local id = epoch .. '-' .. seq
local frame = ARGV[2] .. 'id: ' .. id .. '\n\n'
local ttl = tonumber(ARGV[5])
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)

local function trim(upto)
  local before = tonumber(redis.call('HGET', KEYS[3], 'trimmed') or '0')
  if upto > before then
    redis.call('HSET', KEYS[3], 'trimmed', upto)
  end
end

local topic_epoch = redis.call('HGET', KEYS[3], 'epoch')
if topic_epoch and topic_epoch ~= epoch then
  -- The topic's history is of an earlier epoch: no client of this one can resume into it,
  -- and its positions may be higher than this epoch's. It goes; this epoch has lost
  -- nothing of the topic.
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('HSET', KEYS[3], 'trimmed', 0)
elseif redis.call('EXISTS', KEYS[3]) == 0 then
  -- A topic created afresh, or one whose keys expired: what it held is gone, and it may
  -- have held any position older than the expiry. Positions from before the oldest
  -- checkpoint within the expiry are lost for it (resume.lua applies the same floor to a
  -- topic with no keys).
  local newer = redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. (ms - ttl), '+inf', 'LIMIT', 0, 1)
  local floor = seq - 1
  if #newer > 0 then
    floor = tonumber(newer[1]) - 1
  end
  -- The record alone went (evicted): the history only ever loses its oldest entries, so
  -- all before its first one may be gone.
  local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
  local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if #newest > 0 and not string.find(newest[1][2][2], 'id: ' .. epoch .. '-', 1, true) then
    -- A history of an earlier epoch (its record evicted alone): it goes.
    redis.call('DEL', KEYS[2])
  elseif #first > 0 then
    floor = math.max(floor, tonumber(string.match(first[1][1], '%-(%d+)$')) - 1)
  elseif redis.call('EXISTS', KEYS[2]) == 1 then
    floor = seq - 1
  end
  redis.call('HSET', KEYS[3], 'trimmed', floor)
elseif redis.call('EXISTS', KEYS[2]) == 0 then
  -- A stream that Redis lost (deleted) keeps its loss on record.
  local last = tonumber(redis.call('HGET', KEYS[3], 'last') or '0')
  if last > 0 then
    trim(last)
  end
end

-- One checkpoint every sixteenth of the expiry; those older than two expiries go.
local newest = redis.call('ZREVRANGE', KEYS[4], 0, 0, 'WITHSCORES')
if #newest == 0 or tonumber(newest[2]) <= ms - ttl / 16 then
  redis.call('ZADD', KEYS[4], ms, seq)
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (ms - 2 * ttl))
end

local keep = tonumber(ARGV[3])
if keep > 0 then
  redis.call('XADD', KEYS[2], '0-' .. seq, 'f', frame, 't', ms)
  -- Trim in batches, recording the newest position removed: a resume from before it has
  -- lost events. `XTRIM MINID` drops whole nodes of the stream, unlike `XDEL`, which
  -- leaves its entries as tombstones until a node empties.
  local over = redis.call('XLEN', KEYS[2]) - keep
  if over >= 100 or (over > 0 and keep < 100) then
    local old = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', over)
    local newest = tonumber(string.match(old[#old][1], '%-(%d+)$'))
    redis.call('XTRIM', KEYS[2], 'MINID', '0-' .. (newest + 1))
    trim(newest)
  end
  local age = tonumber(ARGV[4])
  if age > 0 then
    local cutoff = ms - age
    while true do
      local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 100)
      local ids = {}
      for _, entry in ipairs(first) do
        if tonumber(entry[2][4]) >= cutoff then
          break
        end
        ids[#ids + 1] = entry[1]
      end
      if #ids == 0 then
        break
      end
      local newest = tonumber(string.match(ids[#ids], '%-(%d+)$'))
      redis.call('XTRIM', KEYS[2], 'MINID', '0-' .. (newest + 1))
      trim(newest)
      if #ids < #first then
        break
      end
    end
  end
  redis.call('PEXPIRE', KEYS[2], ttl)
else
  trim(seq)
end
redis.call('HSET', KEYS[3], 'last', seq, 'epoch', epoch)
redis.call('PEXPIRE', KEYS[3], ttl)
redis.call('PUBLISH', ARGV[6], id .. ' ' .. frame)
return id
