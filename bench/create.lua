-- POST Patient with a small realistic body.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/fhir+json"
wrk.headers["Prefer"] = "return=minimal"
local n = 0
request = function()
  n = n + 1
  local body = '{"resourceType":"Patient","identifier":[{"system":"urn:bench","value":"' .. n .. '-' .. math.random(1, 1e9) .. '"}],' ..
    '"name":[{"family":"Bench","given":["Load","Test"]}],"gender":"female","birthDate":"1970-01-01",' ..
    '"address":[{"line":["1 Main St"],"city":"Springfield","postalCode":"12345"}]}'
  return wrk.format(nil, nil, nil, body)
end
