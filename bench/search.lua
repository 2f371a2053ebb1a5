-- GET over the search URLs in $QUERIES_FILE (lines `Qnn<TAB>/fhir/Type?query`), round robin,
-- each wrk thread starting at a different place in the list.
local paths = {}
for line in io.lines(os.getenv("QUERIES_FILE") or "queries.tsv") do
  local p = line:match("^[^\t]+\t(.+)$")
  if p then paths[#paths + 1] = p end
end
local counter = 0
local i = 0
setup = function(thread)
  thread:set("start", counter * 7)
  counter = counter + 1
end
init = function(args)
  i = start or 0
end
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1], {["Accept"] = "application/fhir+json"})
end
