-- Publishes one event: takes the hub's next position, stores the frame in the topic's
-- stream, trims the history, and notifies every instance, all in one atomic step.
--
-- KEYS[1] epoch          the hub's epoch (created here when missing: a new or wiped Redis)
-- KEYS[2] seq            the hub's position counter
-- KEYS[3] stream         this topic's history
-- KEYS[4] meta           hash of this topic: `last` (newest position published to it) and
--                        `trimmed` (newest position removed from its history)
-- KEYS[5] clock          sorted set: positions by the time they were handed out, a few a
--                        period, for the floor of a topic created afresh (see below)
-- ARGV[1] a fresh epoch, used if KEYS[1] is missing
-- ARGV[2] the encoded event without its id line and final blank line
-- ARGV[3] history: most events kept (0: none)
-- ARGV[4] history: most age in ms (0: no bound)
-- ARGV[5] the topic's idle expiry in ms: its stream and meta expire this long after its
--         last publish
-- ARGV[6] the Pub/Sub channel of the topic
-- returns "{epoch}-{seq}"
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local seq = redis.call('INCR', KEYS[2])
local id = epoch .. '-' .. seq
local frame = ARGV[2] .. 'id: ' .. id .. '\n\n'
local ttl = tonumber(ARGV[5])
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)

local function trim(upto)
  local before = tonumber(redis.call('HGET', KEYS[4], 'trimmed') or '0')
  if upto > before then
    redis.call('HSET', KEYS[4], 'trimmed', upto)
  end
end

if redis.call('EXISTS', KEYS[4]) == 0 then
  -- A topic created afresh, or one whose keys expired: what it held is gone, and it may
  -- have held any position older than the expiry. Positions from before the oldest
  -- checkpoint within the expiry are lost for it (resume.lua applies the same floor to a
  -- topic with no keys).
  local newer = redis.call('ZRANGEBYSCORE', KEYS[5], '(' .. (ms - ttl), '+inf', 'LIMIT', 0, 1)
  local floor = seq - 1
  if #newer > 0 then
    floor = tonumber(newer[1]) - 1
  end
  -- The record alone went (evicted): the history only ever loses its oldest entries, so
  -- all before its first one may be gone.
  local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)
  if #first > 0 then
    floor = math.max(floor, tonumber(string.match(first[1][1], '%-(%d+)$')) - 1)
  elseif redis.call('EXISTS', KEYS[3]) == 1 then
    floor = seq - 1
  end
  redis.call('HSET', KEYS[4], 'trimmed', floor)
elseif redis.call('EXISTS', KEYS[3]) == 0 then
  -- A stream that Redis lost (deleted) keeps its loss on record.
  local last = tonumber(redis.call('HGET', KEYS[4], 'last') or '0')
  if last > 0 then
    trim(last)
  end
end

-- One checkpoint every sixteenth of the expiry; those older than two expiries go.
local newest = redis.call('ZREVRANGE', KEYS[5], 0, 0, 'WITHSCORES')
if #newest == 0 or tonumber(newest[2]) <= ms - ttl / 16 then
  redis.call('ZADD', KEYS[5], ms, seq)
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. (ms - 2 * ttl))
end

local keep = tonumber(ARGV[3])
if keep > 0 then
  redis.call('XADD', KEYS[3], '0-' .. seq, 'f', frame, 't', ms)
  -- Trim in batches with XDEL, recording the newest position removed: a resume from
  -- before it has lost events.
  local over = redis.call('XLEN', KEYS[3]) - keep
  if over >= 100 or (over > 0 and keep < 100) then
    local old = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', over)
    local ids = {}
    for i, entry in ipairs(old) do
      ids[i] = entry[1]
    end
    redis.call('XDEL', KEYS[3], unpack(ids))
    trim(tonumber(string.match(ids[#ids], '%-(%d+)$')))
  end
  local age = tonumber(ARGV[4])
  if age > 0 then
    local cutoff = ms - age
    while true do
      local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 100)
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
      redis.call('XDEL', KEYS[3], unpack(ids))
      trim(tonumber(string.match(ids[#ids], '%-(%d+)$')))
      if #ids < #first then
        break
      end
    end
  end
  redis.call('PEXPIRE', KEYS[3], ttl)
else
  trim(seq)
end
redis.call('HSET', KEYS[4], 'last', seq)
redis.call('PEXPIRE', KEYS[4], ttl)
redis.call('PUBLISH', ARGV[6], id .. ' ' .. frame)
return id
