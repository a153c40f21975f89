-- mixed.lua: 90% GET / 10% PUT of 1 KiB values over a bounded key space (the --long RSS run).
-- Arguments after "--": namespace, number of keys.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")

local ns, keys, n = "bench", 10000, 0
local body = string.rep("m", 1024)

function init(args)
    ns = args[1] or ns
    keys = tonumber(args[2] or keys)
end

function request()
    n = n + 1
    local key = "/kv/" .. ns .. "/mix-" .. ((n * 7919) % keys)
    if n % 10 == 0 then
        return wrk.format("PUT", key, nil, body)
    end
    return wrk.format("GET", key)
end
