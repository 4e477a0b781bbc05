"""The sharing rules: pure functions from (object, submitter, policy) to what each feed gets."""
