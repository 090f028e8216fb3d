-- Recounts the 15-minute queue rollups (migration 0005) of the quarters a batch's visits entered (@entry) or were answered in (@answer).
SELECT records_refresh_rollups(@entry, @answer)
