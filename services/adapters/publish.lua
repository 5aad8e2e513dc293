-- Atomically claim an article's identity keys and XADD its events.
-- KEYS: [1..n] identity keys, [n+1] the articles stream, [n+2..] topic streams
-- ARGV: n, article_id, ttl_s, type, schema, data, maxlen_articles, maxlen_topic
-- Returns {"published", stream_id...} or {"exists", owner_article_id}.
local n = tonumber(ARGV[1])
local article_id = ARGV[2]
for i = 1, n do
  local owner = redis.call('GET', KEYS[i])
  if owner then
    return {'exists', owner}
  end
end
local ttl = tonumber(ARGV[3])
for i = 1, n do
  redis.call('SET', KEYS[i], article_id, 'EX', ttl)
end
local fields = {'type', ARGV[4], 'id', article_id, 'schema', ARGV[5], 'data', ARGV[6]}
local ids = {'published'}
ids[2] = redis.call('XADD', KEYS[n + 1], 'MAXLEN', '~', ARGV[7], '*', unpack(fields))
for i = n + 2, #KEYS do
  ids[#ids + 1] = redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[8], '*', unpack(fields))
end
return ids
