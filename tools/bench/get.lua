-- get.lua: a fixed GET (the URL given to wrk) on keep-alive connections; only adds reporting.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")
