"""What commands write and print: JSON results, output paths checked before a run, the run folder a
command owns, pictures and the HTML reports, and the summaries bench / compare / tune print."""
