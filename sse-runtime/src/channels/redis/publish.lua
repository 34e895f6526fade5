-- Publishes a batch of events (those that waited while the previous call was on its way):
-- takes the hub's next positions, appends the events to their topics' histories, trims the
-- histories, and notifies every instance, all in one atomic step. Most of the cost of a
-- script is per call and per command, so a batch costs a few commands per topic and none
-- per event: each topic's events of the batch are one entry of its history and one
-- Pub/Sub message.
--
-- An event travels as its *body*: the event encoded without its id line and final blank
-- line (empty, or lines that each end with "\n"; never a "\r", which the encoder never
-- writes). A run of events is their bodies joined by "\r"; an instance makes each frame as
-- body .. "id: {epoch}-{position}\n\n".
--
-- KEYS[1] hub            hash of the hub: `epoch` and `seq`, its position counter. One key,
--                        so Redis loses (deletes, evicts) both or neither: a counter that
--                        starts again always starts in a new epoch.
-- KEYS[2] clock          sorted set: positions by the time they were handed out, a few a
--                        period, for the floor of a topic created afresh (see below)
-- KEYS[3..] for each topic of the batch, two keys:
--   history              a stream: one entry per run of the topic's events, its id
--                        `0-{position of the run's last event}`, its fields `f` (the run),
--                        `t` (ms when published), `n` (events in it), `e` (epoch)
--   record               hash: `epoch` (of its history), `last` (newest position published
--                        to it), `trimmed` (newest position removed from its history) and
--                        `events` (events in its history)
-- ARGV[1] a fresh epoch, used if the hub is missing or its counter went back
-- ARGV[2] history: most events kept (0: none)
-- ARGV[3] history: most age in ms (0: no bound)
-- ARGV[4] the topics' idle expiry in ms: a history and record expire this long after the
--         topic's last publish
-- ARGV[5] the newest position this instance has seen in each of the last epochs it saw:
--         "{epoch} {position}" pairs, space-separated, the epoch it is in now last ('' if
--         none)
-- ARGV[6 .. 5 + topics] the Pub/Sub channel of each topic
-- ARGV[6 + topics .. 5 + 2 * topics] how many events each topic has in the batch
-- then the bodies: the first topic's, then the second's, and so on. Each topic's events get
-- one run of positions, in the order of the topics, and its message goes out in that order
-- too: Pub/Sub keeps the order of `PUBLISH`es, so a subscriber of several topics receives
-- positions in order.
-- A topic's message: "{epoch}-{first position} " .. the run.
-- returns { epoch, first }: the events got positions first, first + 1, .. in ARGV order
local topics = (#KEYS - 2) / 2
local base = 5 + 2 * topics
local n = #ARGV - base
local keep = tonumber(ARGV[2])
local age = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])

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
local seen = {}
for seen_epoch, position in string.gmatch(ARGV[5], '(%S+) (%d+)') do
  seen[#seen + 1] = { seen_epoch, tonumber(position) }
end
local went_back = false
for i, pair in ipairs(seen) do
  -- An epoch the instance has left (not the last), or the current one handing out a
  -- position seen already.
  went_back = went_back or (pair[1] == epoch and (i < #seen or first <= pair[2]))
end
if went_back then
  -- The counter went back: Redis lost writes it had acknowledged (a failover to a replica
  -- that was behind, or to a server still in an epoch since left; a crash with
  -- `appendfsync everysec`), and positions this instance saw would be handed out again,
  -- naming other events, or events delivered already would be replayed. A new epoch
  -- instead: no id repeats, and every client holding one from before gets a reset.
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', last)
  redis.call('DEL', KEYS[2])
end
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)

-- The position of an entry's last event, and of its first.
local function last_of(entry)
  return tonumber(string.match(entry[1], '%-(%d+)$'))
end
local function first_of(entry)
  return last_of(entry) - tonumber(entry[2][6]) + 1
end

-- The newest position removed from a topic's history, if newer than the one on record.
local function trimmed(record, upto)
  local before = tonumber(redis.call('HGET', record, 'trimmed') or '0')
  if upto > before then
    redis.call('HSET', record, 'trimmed', upto)
  end
end

-- Before a topic's run: its history and record as this epoch needs them.
local function prepare(history, record, seq)
  local topic_epoch = redis.call('HGET', record, 'epoch')
  if topic_epoch and topic_epoch ~= epoch then
    -- The topic's history is of an earlier epoch: no client of this one can resume into
    -- it, and its positions may be higher than this epoch's. It goes; this epoch has lost
    -- nothing of the topic.
    redis.call('DEL', history, record)
    redis.call('HSET', record, 'trimmed', 0)
  elseif not topic_epoch then
    -- A topic created afresh, or one whose keys expired: what it held is gone, and it may
    -- have held any position older than the expiry. Positions from before the oldest
    -- checkpoint within the expiry are lost for it (resume.lua applies the same floor to a
    -- topic with no keys).
    local newer = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. (ms - ttl), '+inf', 'LIMIT', 0, 1)
    local floor = seq - 1
    if #newer > 0 then
      floor = tonumber(newer[1]) - 1
    end
    local events = 0
    local newest = redis.call('XREVRANGE', history, '+', '-', 'COUNT', 1)
    if #newest > 0 and newest[1][2][8] ~= epoch then
      -- A history of an earlier epoch (its record evicted alone): it goes.
      redis.call('DEL', history)
    elseif #newest > 0 then
      -- The record alone went (evicted): the history only ever loses its oldest entries,
      -- so all before its first one may be gone. Its events are counted again.
      local entries = redis.call('XRANGE', history, '-', '+')
      floor = math.max(floor, first_of(entries[1]) - 1)
      for _, entry in ipairs(entries) do
        events = events + tonumber(entry[2][6])
      end
    elseif redis.call('EXISTS', history) == 1 then
      floor = seq - 1
    end
    redis.call('HSET', record, 'trimmed', floor, 'events', events)
  elseif keep > 0 and redis.call('EXISTS', history) == 0 then
    -- A history that Redis lost (deleted) keeps its loss on record.
    local published = tonumber(redis.call('HGET', record, 'last') or '0')
    if published > 0 then
      trimmed(record, published)
    end
    redis.call('HSET', record, 'events', 0)
  end
end

-- Drops a topic's oldest entries while the rest still hold `keep` events, or while they
-- are older than the age bound, recording the newest position removed: a resume from
-- before it has lost events. In batches: only once 100 events are over (or any, for a
-- bound under 100). `XTRIM MINID` drops whole nodes of the stream, unlike `XDEL`, which
-- leaves its entries as tombstones until a node empties.
local function bound(history, record, events, count)
  local over = events - keep
  local cutoff, stale = -1, false
  if age > 0 then
    cutoff = ms - age
    local oldest = redis.call('XRANGE', history, '-', '+', 'COUNT', 1)
    stale = #oldest > 0 and tonumber(oldest[1][2][4]) < cutoff
  end
  if not (over >= 100 or (over > 0 and keep < 100) or stale) then
    return
  end
  -- Entries are read a few at a time (they hold their events' bytes), as many as the
  -- newest entry's size says are needed.
  local dropped, upto, from = 0, nil, '-'
  while true do
    local want = math.min(math.max(math.ceil((over - dropped) / count), 1) + 1, 128)
    local entries = redis.call('XRANGE', history, from, '+', 'COUNT', want)
    local done = #entries < want
    for _, entry in ipairs(entries) do
      local n = tonumber(entry[2][6])
      if tonumber(entry[2][4]) >= cutoff and events - dropped - n < keep then
        done = true
        break
      end
      dropped = dropped + n
      upto = last_of(entry)
    end
    if done or not upto then
      break
    end
    from = '(0-' .. upto
  end
  if upto then
    redis.call('XTRIM', history, 'MINID', '0-' .. (upto + 1))
    redis.call('HINCRBY', record, 'events', -dropped)
    trimmed(record, upto)
  end
end

local prior = 0
for t = 1, topics do
  local count = tonumber(ARGV[5 + topics + t])
  local from = first + prior
  local to = from + count - 1
  local history, record = KEYS[1 + 2 * t], KEYS[2 + 2 * t]
  prepare(history, record, from)
  local run = table.concat(ARGV, '\r', base + prior + 1, base + prior + count)
  if keep > 0 then
    redis.call('XADD', history, '0-' .. to, 'f', run, 't', ms, 'n', count, 'e', epoch)
    local events = redis.call('HINCRBY', record, 'events', count)
    bound(history, record, events, count)
    redis.call('PEXPIRE', history, ttl)
  else
    trimmed(record, to)
  end
  redis.call('HSET', record, 'last', to, 'epoch', epoch)
  redis.call('PEXPIRE', record, ttl)
  redis.call('PUBLISH', ARGV[5 + t], epoch .. '-' .. from .. ' ' .. run)
  prior = prior + count
end

-- One checkpoint every sixteenth of the expiry; those older than two expiries go.
local checkpoint = redis.call('ZREVRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #checkpoint == 0 or tonumber(checkpoint[2]) <= ms - ttl / 16 then
  redis.call('ZADD', KEYS[2], ms, first)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (ms - 2 * ttl))
end
return { epoch, first }
