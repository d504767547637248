"""Move the GRAM vectors of an older index from clip payloads into the store's named vectors.

Indexes written before GRAM vectors were Qdrant named vectors kept them as float lists in each clip's
payload (`metadata["gram"]`). Search keeps working on such an index (the reranker reads the lists), so this
is optional; it makes payloads small again and is safe to run twice or on a new index (it then does nothing).

Usage: python -m app.migrate_gram   (the store the `MMRAG_*` settings select, as every command uses it)
"""

from __future__ import annotations

import sys
from typing import cast

from core.protocols import VectorStore
from core.registry import Given, default_registry, selected_name
from core.settings import Settings
from indexing.gram_hook import migrate_payload_gram


def main() -> int:
    """Migrate the configured store; print how many clips moved."""
    settings = Settings()
    name = selected_name(settings, "store")
    store = cast(VectorStore, default_registry().build("store", name, settings, Given()))
    try:
        moved = migrate_payload_gram(store)
    finally:
        store.close()
    print(f"moved the GRAM vectors of {moved} clips from payloads to named vectors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
