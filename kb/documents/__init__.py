"""Help-center articles as a second knowledge source: hybrid retrieval, cited answers, abstention.

Sources (:mod:`.sources`) -> chunks (:mod:`.chunks`) -> index (:mod:`.index`,
built incrementally by :mod:`.ingest`, held and hot-reloaded by
:mod:`.library`) -> retrieval with a calibrated confidence
(:mod:`.retrieval`) -> an answer with its sources (:mod:`.answer`).
"""

from kb.documents.chunks import Chunk
from kb.documents.index import DocumentIndex
from kb.documents.ingest import Sources, build_index
from kb.documents.library import DocumentLibrary, sources_from_config
from kb.documents.retrieval import DocumentHit, Retrieval, Retriever
from kb.documents.sources import Article, DocumentError

__all__ = [
    "Article",
    "Chunk",
    "DocumentError",
    "DocumentHit",
    "DocumentIndex",
    "DocumentLibrary",
    "Retrieval",
    "Retriever",
    "Sources",
    "build_index",
    "sources_from_config",
]
