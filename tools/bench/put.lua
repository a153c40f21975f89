-- put.lua: PUT a 1 KiB value under a new key every request: /kv/<ns>/<prefix>-<n>.
-- Arguments after "--": namespace, key prefix (unique per run so keys never repeat).
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")

local ns, prefix, n = "bench", "p", 0
local body = string.rep("v", 1024)

function init(args)
    ns = args[1] or ns
    prefix = args[2] or prefix
end

function request()
    n = n + 1
    return wrk.format("PUT", "/kv/" .. ns .. "/" .. prefix .. "-" .. n, nil, body)
end
