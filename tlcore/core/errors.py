"""Exceptions a user can cause, each carrying a sentence that says what to do."""


class TLCoreError(Exception):
    """Base class: `user_message` is safe to show as-is in the app or on the command line."""

    def __init__(self, user_message: str):
        super().__init__(user_message)
        self.user_message = user_message


class DataError(TLCoreError):
    """The data cannot be used as given (too few classes, unreadable archive, ...)."""


class ImageReadError(DataError):
    """One file is not a usable image; the reason is the message."""


class BackboneUnavailable(TLCoreError):
    """A backbone's weights are not on this machine and cannot be downloaded."""


class ConfigError(TLCoreError):
    """A setting is out of range or does not fit the chosen backbone."""


class RunLoadError(TLCoreError):
    """A saved run folder is missing files or is not one of ours."""


class JobStartError(TLCoreError):
    """A background job cannot be set up (its folder cannot be written)."""


class ClusterError(JobStartError):
    """Jobs cannot run on the cluster: Ray is not installed, or the cluster cannot be reached or joined."""


class RunExists(TLCoreError):
    """Saving would replace a run this session did not save."""


class RunPathError(ConfigError):
    """The folder named for a run cannot take one (not a folder of its own, or it holds other files).
    `problem` is the reason alone, so a caller can add its own hint (e.g. the command line's --out)."""

    def __init__(self, problem: str, hint: str = "Choose a new folder for the run, e.g. runs/my-run."):
        super().__init__(f"{problem} {hint}")
        self.problem = problem


class ExportError(TLCoreError):
    """A run cannot be exported in the format asked for; nothing was written."""
