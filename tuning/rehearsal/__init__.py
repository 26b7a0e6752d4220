"""The local AMT: the runner, the scheduler it picks for a plan, which definition each job
runs, the accounting of a run, the completion watch, failures and retries, and warm start's
parents. It never imports planning, the request, the SDK or boto3: it reads the plan."""
