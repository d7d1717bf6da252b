# Writes each of Jane Austen's six novels, as packaged by Debian's r-cran-janeaustenr, to <out>/<Book>.txt
# (one source line per line, exactly as the package holds them).
# Usage: Rscript extract_corpus.R <out-dir>
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript extract_corpus.R <out-dir>")
suppressPackageStartupMessages(library(janeaustenr))
out <- args[[1]]
dir.create(out, showWarnings = FALSE, recursive = TRUE)
books <- austen_books()
for (title in levels(books$book)) {
  file <- file.path(out, paste0(gsub("[^A-Za-z]+", "_", title), ".txt"))
  writeLines(books$text[books$book == title], file, useBytes = TRUE)
  cat(sprintf("%-22s %6d lines -> %s\n", title, sum(books$book == title), file))
}
