-- miss.lua: GET <path>?u=<prefix>-<n>, a new cache key every request (a miss that is stored).
-- Arguments after "--": path, prefix (unique per run).
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")

local path, prefix, n = "/obj/1k.bin", "m", 0

function init(args)
    path = args[1] or path
    prefix = args[2] or prefix
end

function request()
    n = n + 1
    return wrk.format("GET", path .. "?u=" .. prefix .. "-" .. n)
end
