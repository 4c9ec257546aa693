"""The report: metrics gathered into tables, intervals, plots and the paper's comparison."""
