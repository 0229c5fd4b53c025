-- Argo CD health check for reentry.dev/RecoveryPlan (docs/gitops.md).
-- Healthy: Restored with Ready=True. Degraded: Failed, Aborted or Stalled=True.
-- Suspended: Paused. Progressing: anything else, and any status older than the spec.
local hs = {}

local function condition(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local status = obj.status
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the reentry operator to evaluate the plan"
  return hs
end

-- A status written for an older spec says nothing about the current one.
local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the reentry operator to observe generation " .. tostring(generation)
  return hs
end

local phase = status.phase
local message = status.message or phase
local ready = condition(status.conditions, "Ready")
local stalled = condition(status.conditions, "Stalled")

if (stalled ~= nil and stalled.status == "True") or phase == "Failed" or phase == "Aborted" then
  hs.status = "Degraded"
  if stalled ~= nil and stalled.status == "True" and stalled.message ~= nil and stalled.message ~= "" then
    message = stalled.message
  end
  hs.message = phase .. ": " .. message
  return hs
end

if phase == "Paused" then
  hs.status = "Suspended"
  hs.message = message
  return hs
end

if phase == "Restored" and ready ~= nil and ready.status == "True"
    and (ready.observedGeneration == nil or ready.observedGeneration == generation or generation == nil) then
  hs.status = "Healthy"
  hs.message = message
  return hs
end

hs.status = "Progressing"
hs.message = phase .. ": " .. message
return hs
