"""The actions engine: declaring actions, their forms, selections, execution and results."""
