-- GET Patient/{id} over the ids in ids.txt (one per line), round robin per thread.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE") or "ids.txt") do ids[#ids + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/fhir/Patient/" .. ids[(i % #ids) + 1], {["Accept"] = "application/fhir+json"})
end
