-- Publishes one event: takes the hub's next position, stores the frame in the topic's
-- stream, trims the history, and notifies every instance, all in one atomic step.
--
-- KEYS[1] epoch          the hub's epoch (created here when missing: a new or wiped Redis)
-- KEYS[2] seq            the hub's position counter
-- KEYS[3] stream         this topic's history
-- KEYS[4] last           hash: topic -> newest position published to it
-- KEYS[5] trimmed        hash: topic -> newest position removed from its history
-- ARGV[1] a fresh epoch, used if KEYS[1] is missing
-- ARGV[2] the encoded event without its id line and final blank line
-- ARGV[3] history: most events kept (0: none)
-- ARGV[4] history: most age in ms (0: no bound)
-- ARGV[5] the topic
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
local topic = ARGV[5]

local function trim(upto)
  local before = tonumber(redis.call('HGET', KEYS[5], topic) or '0')
  if upto > before then
    redis.call('HSET', KEYS[5], topic, upto)
  end
end

if redis.call('EXISTS', KEYS[3]) == 0 then
  -- A stream that Redis lost (key deleted or expired) keeps its loss on record.
  local last = tonumber(redis.call('HGET', KEYS[4], topic) or '0')
  if last > 0 then
    trim(last)
  end
end

local keep = tonumber(ARGV[3])
if keep > 0 then
  local now = redis.call('TIME')
  local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
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
else
  trim(seq)
end
redis.call('HSET', KEYS[4], topic, seq)
redis.call('PUBLISH', ARGV[6], id .. ' ' .. frame)
return id
