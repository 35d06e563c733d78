--- sinch.batch.journal: the campaign journal, by its earlier name (the
-- module is sinch.batch.campaign.journal).
return require "sinch.batch.campaign.journal"
