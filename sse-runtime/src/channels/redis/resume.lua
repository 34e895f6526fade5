-- Reads where a subscription starts: the hub's epoch and newest position, and for each
-- topic the events after the client's position (or the last few), in one atomic step.
--
-- KEYS[1] hub (`epoch`, `seq`), KEYS[2] clock, KEYS[3..] for each topic its history then
-- its record (see publish.lua)
-- ARGV[1] the client's epoch ('' to start live)
-- ARGV[2] the client's position
-- ARGV[3] without a position: how many of the newest events to replay per topic
-- ARGV[4] history: most age in ms (0: no bound)
-- ARGV[5] a fresh epoch, used if the hub is missing (a new or wiped Redis)
-- ARGV[6] a topic's idle expiry in ms
-- ARGV[7] '1' when an instance's relay catches up from the newest position it delivered
--         (trusted: a client's `Last-Event-ID` is not)
-- ARGV[8] with ARGV[7]: the newest position that instance has seen in each of the last
--         epochs it saw, the current one last, as publish.lua's ARGV[5]
-- returns { epoch, head, mode, per topic: { trimmed (0/1), first, run, first, run, .. } }
-- where mode is 'live', 'after' or 'unknown', and each run (of the history's entries that
-- hold an event after the position) starts at position `first`
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[5]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
  redis.call('DEL', KEYS[2])
end
local head = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local after = tonumber(ARGV[2])
local mode = 'after'
if ARGV[1] == '' then
  mode = 'live'
elseif ARGV[1] ~= epoch or after > head then
  mode = 'unknown'
  local seen = {}
  if ARGV[7] == '1' then
    for seen_epoch, position in string.gmatch(ARGV[8], '(%S+) (%d+)') do
      seen[#seen + 1] = { seen_epoch, tonumber(position) }
    end
  end
  local went_back = false
  for i, pair in ipairs(seen) do
    went_back = went_back or (pair[1] == epoch and (i < #seen or pair[2] > head))
  end
  if went_back then
    -- Redis is in an epoch the instance has left, or the instance saw positions of this
    -- one beyond the counter: Redis lost writes it acknowledged (a failover to a replica
    -- that was behind, or to a server still in an epoch since left; a crash). A new
    -- epoch, so that those positions are never handed out again and what the instance
    -- delivered is not replayed (see publish.lua).
    epoch = ARGV[5]
    redis.call('HSET', KEYS[1], 'epoch', epoch)
    redis.call('DEL', KEYS[2])
  end
end
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local cutoff = -1
if tonumber(ARGV[4]) > 0 then
  cutoff = ms - tonumber(ARGV[4])
end
-- For a topic with no keys (never published to, or expired after being idle): any
-- position older than the expiry may have been lost with it.
local floor = head
local newer = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. (ms - tonumber(ARGV[6])), '+inf', 'LIMIT', 0, 1)
if #newer > 0 then
  floor = tonumber(newer[1]) - 1
end

local out = { epoch, head, mode }
-- The position of an entry's last event.
local function last_of(entry)
  return tonumber(string.match(entry[1], '%-(%d+)$'))
end

for i = 3, #KEYS, 2 do
  local history, record = KEYS[i], KEYS[i + 1]
  local trimmed = floor
  -- A history of an earlier epoch (the hub's record was lost, or its counter went back):
  -- nothing of this epoch is in it, and nothing of this epoch was lost from it.
  local stale = false
  local topic_epoch = redis.call('HGET', record, 'epoch')
  if topic_epoch then
    stale = topic_epoch ~= epoch
  else
    local newest = redis.call('XREVRANGE', history, '+', '-', 'COUNT', 1)
    stale = #newest > 0 and newest[1][2][8] ~= epoch
  end
  if stale then
    trimmed = 0
  elseif redis.call('EXISTS', record) == 0 and redis.call('EXISTS', history) == 1 then
    -- The record went (evicted) but the history stayed: it only ever loses its oldest
    -- entries, so all before its first one may be gone.
    local first = redis.call('XRANGE', history, '-', '+', 'COUNT', 1)
    if #first > 0 then
      trimmed = math.max(floor, last_of(first[1]) - tonumber(first[1][2][6]))
    else
      trimmed = head
    end
  elseif redis.call('EXISTS', record) == 1 then
    trimmed = tonumber(redis.call('HGET', record, 'trimmed') or '0')
    if redis.call('EXISTS', history) == 0 then
      -- Lost (deleted or expired) since its last publish: so is everything up to it.
      local last = tonumber(redis.call('HGET', record, 'last') or '0')
      if last > trimmed then
        trimmed = last
      end
    end
  end
  local entries = {}
  if stale then
    entries = {}
  elseif mode == 'after' then
    entries = redis.call('XRANGE', history, '(0-' .. after, '+')
  elseif mode == 'live' and tonumber(ARGV[3]) > 0 then
    entries = redis.call('XREVRANGE', history, '+', '-', 'COUNT', ARGV[3])
  end
  local list = { 0 }
  for _, entry in ipairs(entries) do
    local seq = last_of(entry)
    if tonumber(entry[2][4]) < cutoff then
      -- Too old: as good as trimmed (the next publish removes it).
      if seq > trimmed then
        trimmed = seq
      end
    else
      list[#list + 1] = seq - tonumber(entry[2][6]) + 1
      list[#list + 1] = entry[2][2]
    end
  end
  if mode == 'after' and trimmed > after then
    list = { 1 }
  end
  out[#out + 1] = list
end
return out
