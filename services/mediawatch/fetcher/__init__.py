"""The fetcher service: feeds, pages, sitemaps, an inbox folder and a push endpoint in;
``ArticleFetched`` events out, each exact duplicate dropped and each near-duplicate linked."""
