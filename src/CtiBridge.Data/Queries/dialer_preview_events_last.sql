SELECT coalesce(max(event_id), 0) FROM dialer_preview_events
