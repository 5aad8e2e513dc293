-- Atomic dedupe + publish of one article (optimistic: the worker states what it expects).
-- KEYS: [1..n] identity keys, [n+1] articles stream, [n+2] duplicates stream, [n+3..] topics
-- ARGV: 1 n, 2 kinds ("h" = content key, "k" = other, per identity key), 3 article_id,
--   4 content token (first 16 hex of the content hash), 5 mode (publish|update|duplicate), 6 expected identity token,
--   7 expected snapshot, 8 data, 9 type, 10 schema, 11 story_id, 12 identity ttl_s,
--   13 lsh root, 14 sig root, 15 days (today first, comma-joined), 16 bucket expireat,
--   17 near ttl_s, 18 handle (12 chars), 19 sig value, 20 band keys (comma-joined),
--   21 maxlen articles, 22 maxlen topic, 23 maxlen duplicates, 24 max candidates,
--   25 hot band size (a band field holding this many handles is frozen and ignored)
-- Returns {"replayed", owner} | {"published", stream_id...} | {"updated", stream_id}
--   | {"duplicate", stream_id} | {"state", identity_token, snapshot, candidate...}.
-- Identity values are "<owner>|<content token>[|<story>]" (story omitted when == owner).
local n = tonumber(ARGV[1])
local kinds, aid, chash, mode = ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local function split(s)
  local out = {}
  for part in string.gmatch(s, '[^,]+') do out[#out + 1] = part end
  return out
end

local function first_hit()
  for i = 1, n do
    local v = redis.call('GET', KEYS[i])
    if v then return i, v end
  end
  return 0, nil
end

local days, bands = split(ARGV[15]), split(ARGV[20])
local hot = 12 * tonumber(ARGV[25])

local function bucket(day, band)
  return ARGV[13] .. ':' .. day .. ':' .. string.sub(band, 1, -7), string.sub(band, -6)
end

-- Fingerprint of the item's band fields over the window's day buckets; also returns the
-- handles found and today's field values (to append to without reading them again).
local function snapshot()
  local parts, handles, today, any = {}, {}, {}, false
  for b, band in ipairs(bands) do
    for d, day in ipairs(days) do
      local key, fld = bucket(day, band)
      local v = redis.call('HGET', key, fld) or ''
      if d == 1 then today[b] = v end
      if #v >= hot then v = '*' end
      parts[#parts + 1] = v
      if v ~= '' then any = true end
      if v ~= '*' then
        for j = 1, #v, 12 do handles[#handles + 1] = string.sub(v, j, j + 11) end
      end
    end
  end
  if not any then return '', handles, today end
  return redis.sha1hex(table.concat(parts, ',')), handles, today
end

local function state(token)
  if token ~= '' then return {'state', token, ''} end
  local snap, handles = snapshot()
  local reply, seen, limit = {'state', '', snap}, {}, tonumber(ARGV[24])
  for _, h in ipairs(handles) do
    if not seen[h] and h ~= ARGV[18] and #reply - 3 < limit then
      seen[h] = true
      local blob = redis.call('GET', ARGV[14] .. ':' .. h)
      if blob then reply[#reply + 1] = blob end
    end
  end
  return reply
end

local function fields()
  return {'type', ARGV[9], 'id', aid, 'schema', ARGV[10], 'data', ARGV[8]}
end

local ttl = tonumber(ARGV[12])
local hit, value = first_hit()
local token = ''
if hit > 0 then
  local owner, stored = string.match(value, '^([^|]*)|([^|]*)')
  if stored == chash and (string.sub(kinds, hit, hit) ~= 'h' or owner == aid) then
    return {'replayed', owner}
  end
  token = hit .. '=' .. value
end
if token ~= ARGV[6] then return state(token) end

if mode == 'update' then
  local owner = string.match(value, '^([^|]*)')
  local new = owner .. '|' .. chash
  if ARGV[11] ~= owner then new = new .. '|' .. ARGV[11] end
  for i = 1, n do
    local cur = redis.call('GET', KEYS[i])
    if not cur or string.match(cur, '^([^|]*)') == owner then
      redis.call('SET', KEYS[i], new, 'EX', ttl)
    end
  end
  aid = owner
  return {'updated', redis.call('XADD', KEYS[n + 1], 'MAXLEN', '~', ARGV[21], '*', unpack(fields()))}
end

if mode == 'duplicate' then
  local mine = aid .. '|' .. chash .. '|' .. ARGV[11]
  for i = 1, n do redis.call('SET', KEYS[i], mine, 'NX', 'EX', ttl) end
  return {'duplicate', redis.call('XADD', KEYS[n + 2], 'MAXLEN', '~', ARGV[23], '*', unpack(fields()))}
end

local snap, _, today = snapshot()
if snap ~= ARGV[7] then return state('') end
for i = 1, n do redis.call('SET', KEYS[i], aid .. '|' .. chash, 'EX', ttl) end
if #bands > 0 then
  local near_ttl, at = tonumber(ARGV[17]), tonumber(ARGV[16])
  redis.call('SET', ARGV[14] .. ':' .. ARGV[18], ARGV[19], 'EX', near_ttl)
  for b, band in ipairs(bands) do
    if #today[b] < hot then
      local key, fld = bucket(days[1], band)
      redis.call('HSET', key, fld, today[b] .. ARGV[18])
      redis.call('EXPIREAT', key, at)
    end
  end
end
local ids = {'published'}
ids[2] = redis.call('XADD', KEYS[n + 1], 'MAXLEN', '~', ARGV[21], '*', unpack(fields()))
for i = n + 3, #KEYS do
  ids[#ids + 1] = redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[22], '*', unpack(fields()))
end
return ids
