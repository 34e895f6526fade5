-- Publishes a batch of events (those that waited while the previous batch was on its
-- way): takes the hub's next positions, stores each frame in its topic's stream, trims the
-- histories, and notifies every instance, all in one atomic step. One call for many events
-- is what makes a publish cheap: most of a script's cost is the call itself.
--
-- KEYS[1] hub            hash of the hub: `epoch` and `seq`, its position counter. One key,
--                        so Redis loses (deletes, evicts) both or neither: a counter that
--                        starts again always starts in a new epoch.
-- KEYS[2] clock          sorted set: positions by the time they were handed out, a few a
--                        period, for the floor of a topic created afresh (see below)
-- KEYS[3..] for each topic of the batch, two keys:
--   stream               its history
--   meta                 hash: `epoch` (of its history), `last` (newest position published
--                        to it) and `trimmed` (newest position removed from its history)
-- ARGV[1] a fresh epoch, used if the hub is missing or its counter went back
-- ARGV[2] history: most events kept (0: none)
-- ARGV[3] history: most age in ms (0: no bound)
-- ARGV[4] the topics' idle expiry in ms: a stream and meta expire this long after the
--         topic's last publish
-- ARGV[5] the epoch of the newest position this instance has seen ('' if none)
-- ARGV[6] that position
-- ARGV[7 .. 6 + topics] the Pub/Sub channel of each topic
-- then, for each event: the number of its topic (1, 2, ..), and the encoded event without
--   its id line and final blank line. Events of one topic come together, topics in the
--   order of KEYS, so that each topic's positions are one run and the topics' `PUBLISH`es
--   go out in the order of their positions.
-- returns { epoch, first }: the events got positions first, first + 1, .. in order
local topics = (#KEYS - 2) / 2
local base = 6 + topics
local n = (#ARGV - base) / 2
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  -- A new or wiped Redis, or the hub's record evicted: a new epoch, and the clock's
  -- positions (of the old one) go.
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
  redis.call('DEL', KEYS[2])
end
local last = redis.call('HINCRBY', KEYS[1], 'seq', n)
local first = last - n + 1
if epoch == ARGV[5] and first <= tonumber(ARGV[6]) then
  -- The counter went back: Redis lost writes it had acknowledged (a failover to a replica
  -- that was behind, a crash with `appendfsync everysec`), and positions this instance saw
  -- would be handed out again, naming other events. A new epoch instead: no id repeats,
  -- and every client holding one from before gets a reset.
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', last)
  redis.call('DEL', KEYS[2])
end
local ttl = tonumber(ARGV[4])
local keep = tonumber(ARGV[2])
local age = tonumber(ARGV[3])
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)

-- Each topic's first and last position in this batch.
local firsts, lasts = {}, {}
for i = 1, n do
  local t = tonumber(ARGV[base + 2 * i - 1])
  if not firsts[t] then
    firsts[t] = first + i - 1
  end
  lasts[t] = first + i - 1
end

-- The newest position removed from a topic's history, if newer than the one on record.
local function trim(meta, upto)
  local before = tonumber(redis.call('HGET', meta, 'trimmed') or '0')
  if upto > before then
    redis.call('HSET', meta, 'trimmed', upto)
  end
end

-- Before a topic's first event of the batch: its history and record as this epoch needs
-- them.
local function prepare(stream, meta, seq)
  local topic_epoch = redis.call('HGET', meta, 'epoch')
  if topic_epoch and topic_epoch ~= epoch then
    -- The topic's history is of an earlier epoch: no client of this one can resume into
    -- it, and its positions may be higher than this epoch's. It goes; this epoch has lost
    -- nothing of the topic.
    redis.call('DEL', stream, meta)
    redis.call('HSET', meta, 'trimmed', 0)
  elseif not topic_epoch and redis.call('EXISTS', meta) == 0 then
    -- A topic created afresh, or one whose keys expired: what it held is gone, and it may
    -- have held any position older than the expiry. Positions from before the oldest
    -- checkpoint within the expiry are lost for it (resume.lua applies the same floor to a
    -- topic with no keys).
    local newer = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. (ms - ttl), '+inf', 'LIMIT', 0, 1)
    local floor = seq - 1
    if #newer > 0 then
      floor = tonumber(newer[1]) - 1
    end
    -- The record alone went (evicted): the history only ever loses its oldest entries, so
    -- all before its first one may be gone.
    local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
    local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
    if #newest > 0 and not string.find(newest[1][2][2], 'id: ' .. epoch .. '-', 1, true) then
      -- A history of an earlier epoch (its record evicted alone): it goes.
      redis.call('DEL', stream)
    elseif #oldest > 0 then
      floor = math.max(floor, tonumber(string.match(oldest[1][1], '%-(%d+)$')) - 1)
    elseif redis.call('EXISTS', stream) == 1 then
      floor = seq - 1
    end
    redis.call('HSET', meta, 'trimmed', floor)
  elseif keep > 0 and redis.call('EXISTS', stream) == 0 then
    -- A stream that Redis lost (deleted) keeps its loss on record.
    local published = tonumber(redis.call('HGET', meta, 'last') or '0')
    if published > 0 then
      trim(meta, published)
    end
  end
end

-- Trims a topic's history to its bounds, in batches, recording the newest position
-- removed: a resume from before it has lost events. `XTRIM MINID` drops whole nodes of the
-- stream, unlike `XDEL`, which leaves its entries as tombstones until a node empties.
local function bound(stream, meta)
  local over = redis.call('XLEN', stream) - keep
  if over >= 100 or (over > 0 and keep < 100) then
    local old = redis.call('XRANGE', stream, '-', '+', 'COUNT', over)
    local newest = tonumber(string.match(old[#old][1], '%-(%d+)$'))
    redis.call('XTRIM', stream, 'MINID', '0-' .. (newest + 1))
    trim(meta, newest)
  end
  if age > 0 then
    local cutoff = ms - age
    while true do
      local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 100)
      local ids = {}
      for _, entry in ipairs(oldest) do
        if tonumber(entry[2][4]) >= cutoff then
          break
        end
        ids[#ids + 1] = entry[1]
      end
      if #ids == 0 then
        break
      end
      local newest = tonumber(string.match(ids[#ids], '%-(%d+)$'))
      redis.call('XTRIM', stream, 'MINID', '0-' .. (newest + 1))
      trim(meta, newest)
      if #ids < #oldest then
        break
      end
    end
  end
end

for t = 1, topics do
  prepare(KEYS[1 + 2 * t], KEYS[2 + 2 * t], firsts[t])
end

-- One checkpoint every sixteenth of the expiry; those older than two expiries go.
local checkpoint = redis.call('ZREVRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #checkpoint == 0 or tonumber(checkpoint[2]) <= ms - ttl / 16 then
  redis.call('ZADD', KEYS[2], ms, first)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (ms - 2 * ttl))
end

-- Append every event, then per topic: bound its history, update its record, and notify
-- the instances with one message of all its events ("{id} {frame}" each, back to back: a
-- frame ends at its first blank line).
local notes = {}
for i = 1, n do
  local t = tonumber(ARGV[base + 2 * i - 1])
  local seq = first + i - 1
  local id = epoch .. '-' .. seq
  local frame = ARGV[base + 2 * i] .. 'id: ' .. id .. '\n\n'
  if keep > 0 then
    redis.call('XADD', KEYS[1 + 2 * t], '0-' .. seq, 'f', frame, 't', ms)
  end
  local note = notes[t]
  if not note then
    note = {}
    notes[t] = note
  end
  note[#note + 1] = id .. ' ' .. frame
end
for t = 1, topics do
  local stream, meta = KEYS[1 + 2 * t], KEYS[2 + 2 * t]
  if keep > 0 then
    bound(stream, meta)
    redis.call('PEXPIRE', stream, ttl)
  else
    trim(meta, lasts[t])
  end
  redis.call('HSET', meta, 'last', lasts[t], 'epoch', epoch)
  redis.call('PEXPIRE', meta, ttl)
  redis.call('PUBLISH', ARGV[6 + t], table.concat(notes[t]))
end
return { epoch, first }
