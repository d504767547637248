"""Vector stores, lexical vectors, fusion, GRAM scoring, routing and the retriever."""
