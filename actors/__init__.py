"""The domain model (teachers, the instance actor, notes) and its ActivityStreams form."""
