-- Before a dialer instance starts its session: the Stasis app its previous run under the same instance id still
-- names. Not null: that run did not stop cleanly (a clean stop clears it, dialer_session_end), so what it left
-- under this id is its own calls to take back (DialerSessions.TakeBackPreviousRunAsync).
SELECT application FROM dialer_instances WHERE instance_id = @instance_id
