-- wrk script of the fast workload (bench/run.sh, bench/instructions.sh): a status read of a new
-- user on every request, unique across wrk's threads and runs.
local n = 0
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("tid", os.time() .. "-" .. threads) end
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/users/userId:new-" .. tid .. "-" .. n .. "/verification")
end
