-- Argo CD health check for sagemaker-operator.dev/TrainingJob.
-- Reads the kstatus conditions the operator writes: Stalled=True → Degraded,
-- Ready=True → Healthy, anything else (running, deleting, not yet seen) → Progressing.
local hs = {}

local function describe(condition)
  local text = condition.reason or condition.type
  if condition.message ~= nil and condition.message ~= "" then
    text = text .. ": " .. condition.message
  end
  return text
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: the operator stops the training job before the resource goes"
  return hs
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to create the training job"
  return hs
end

if obj.status.observedGeneration ~= nil and obj.metadata ~= nil
    and obj.metadata.generation ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. obj.metadata.generation
  return hs
end

local conditions = {}
for _, condition in ipairs(obj.status.conditions) do
  conditions[condition.type] = condition
end

if conditions.Stalled ~= nil and conditions.Stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(conditions.Stalled)
  return hs
end

if conditions.Ready ~= nil and conditions.Ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(conditions.Ready)
  return hs
end

hs.status = "Progressing"
if conditions.Reconciling ~= nil then
  hs.message = describe(conditions.Reconciling)
else
  hs.message = "Waiting for the training job"
end
return hs
