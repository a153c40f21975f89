-- fill.lua: GET <path>?u=<prefix>-<n>, a new cache key each (a miss that is stored), until
-- <count> responses have come back; then it stops and prints "FILLED" (wrk itself runs until -d
-- or SIGINT, which bench.py sends on that line). Arguments after "--": path, prefix, count.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")

local path, prefix, count, n, answered = "/obj/1k.bin", "f", 200000, 0, 0

function init(args)
    path = args[1] or path
    prefix = args[2] or prefix
    count = tonumber(args[3] or count)
end

function request()
    n = n + 1
    return wrk.format("GET", path .. "?u=" .. prefix .. "-" .. n)
end

function response(status, headers, body)
    answered = answered + 1
    if answered == count then
        wrk.thread:stop()
        io.write("FILLED\n")
        io.flush()
    end
end
