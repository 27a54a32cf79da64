"""What runs behind the API: the cluster executor and registry, the step journal, storage,
the task engine, upload tempfiles, and stoppable conversions."""
