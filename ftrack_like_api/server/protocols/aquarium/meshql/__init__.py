"""meshQL, Aquarium's query language: grammar (:mod:`.grammar`), syntax tree (:mod:`.ast`), SQL (:mod:`.compiler`)."""
