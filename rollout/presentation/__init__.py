"""What a person sees of a rollout: the live terminal view and the written report."""
