"""The explorer app's kernel manager (``make app``): culling that lets a preheated kernel
reach its page.

Voila's preheated kernels wait in a pool, exempt from culling, and have had no activity
since they ran the app, minutes ago perhaps. When a page takes one, it leaves the pool with
that old idle time and no connection yet: the culler's next check (every ``cull_interval``
seconds) would shut it down before a slow browser opens its websocket (the browser test saw
exactly this). This manager restarts the idle clock of a kernel the first time the culler
meets it outside the pool, so every page has ``cull_idle_timeout`` seconds to connect; after
that, culling is jupyter_server's own.
"""

from jupyter_core.utils import ensure_async
from jupyter_server._tz import utcnow
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager


class AppKernelManager(AsyncMappingKernelManager):
    """``AsyncMappingKernelManager`` whose culler skips a kernel's first check outside Voila's
    pool (Voila's ``VoilaKernelManager`` answers for pooled kernels before calling this)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._met = set()  # kernel ids the culler has met outside the pool

    async def cull_kernel_if_idle(self, kernel_id):
        if kernel_id not in self._met and kernel_id in self._kernels:
            self._met.add(kernel_id)
            self._kernels[kernel_id].last_activity = utcnow()
            return None
        return await ensure_async(super().cull_kernel_if_idle(kernel_id))

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):
        self._met.discard(kernel_id)
        return await ensure_async(super().shutdown_kernel(kernel_id, *args, **kwargs))
