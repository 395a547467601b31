import { createTheme } from '@mui/material/styles';

const shared = {
  shape: { borderRadius: 8 },
  typography: { fontFamily: '"Google Sans", Roboto, "Helvetica Neue", Arial, sans-serif', button: { textTransform: 'none', fontWeight: 500 } },
  components: {
    MuiButton: { styleOverrides: { root: { borderRadius: 20, paddingLeft: 20, paddingRight: 20 } } },
    MuiTooltip: { defaultProps: { arrow: true } },
  },
};

export const lightTheme = createTheme({
  ...shared,
  palette: { mode: 'light', primary: { main: '#1a73e8' }, error: { main: '#d93025' }, background: { default: '#fff' } },
});

export const darkTheme = createTheme({
  ...shared,
  palette: {
    mode: 'dark', primary: { main: '#8ab4f8' }, error: { main: '#ea4335' },
    background: { default: '#202124', paper: '#2d2e31' },
  },
});
